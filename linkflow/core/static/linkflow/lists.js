// The execution list, live: follows the workspace's execution feed and asks the server for
// the rows of the executions it mentions, filtered like the list (so a new execution shows
// up only when the list would show it, and the server stays the one place that filters).
(function () {
  "use strict";

  var live = document.getElementById("executions-live");
  if (!live || !window.WebSocket) return;

  var stateEl = document.querySelector("[data-live-state]");
  var pending = {};
  var announced = {};
  var timer = null;
  var retryMs = 1000;
  var connectedOnce = false;

  function setState(text, connected) {
    if (!stateEl) return;
    stateEl.textContent = text;
    stateEl.dataset.connected = connected ? "yes" : "no";
  }

  function table() { return document.getElementById("executions-table"); }

  function findRow(id) {
    var body = document.getElementById("executions-rows");
    if (!body) return null;
    var rows = body.querySelectorAll("tr[data-execution]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.execution === id) return rows[i];
    }
    return null;
  }

  function label(status) { return status.charAt(0).toUpperCase() + status.slice(1); }

  function setBadge(row, status) {
    var badge = row.querySelector("[data-badge]");
    if (!badge || !/^[a-z]+$/.test(status)) return;
    badge.className = "badge badge-" + status;
    badge.textContent = label(status);
    row.dataset.status = status;
  }

  // One event of the feed; anything that is not an execution event is ignored.
  function handle(event) {
    if (!event || typeof event !== "object" || typeof event.type !== "string") return;
    if (event.type.indexOf("execution.") !== 0 || typeof event.execution !== "string") return;
    var row = findRow(event.execution);
    if (row && typeof event.status === "string") setBadge(row, event.status);
    pending[event.execution] = true;
    if (!timer) timer = setTimeout(fetchRows, 150);
  }

  function fetchRows() {
    timer = null;
    var ids = Object.keys(pending);
    pending = {};
    var current = table();
    if (!current || !ids.length) return;
    var query = current.dataset.filterQuery;
    var url = live.dataset.rowsUrl + "?ids=" + ids.map(encodeURIComponent).join(",") +
      (query ? "&" + query : "");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { merge(html, current); })
      .catch(function () { /* the next event or a reload brings it */ });
  }

  function merge(html, asked) {
    if (asked !== table()) return; // filters or paging swapped the list meanwhile
    var template = document.createElement("template");
    template.innerHTML = html;
    var fresh = [];
    template.content.querySelectorAll("tr[data-execution]").forEach(function (row) {
      var existing = findRow(row.dataset.execution);
      if (existing) existing.replaceWith(row);
      else fresh.push(row);
    });
    if (!fresh.length) return;
    if (asked.dataset.firstPage === "1") {
      var body = document.getElementById("executions-rows");
      for (var i = fresh.length - 1; i >= 0; i--) body.insertBefore(fresh[i], body.firstChild);
      var wrap = document.querySelector("[data-table-wrap]");
      if (wrap) wrap.hidden = false;
      document.querySelectorAll("#executions-results [data-empty]").forEach(function (el) {
        el.hidden = true;
      });
      return;
    }
    // An older page: new executions belong on the first one; say how many there are.
    fresh.forEach(function (row) { announced[row.dataset.execution] = true; });
    var bar = document.querySelector("[data-new-bar]");
    if (bar) {
      bar.querySelector("[data-new-count]").textContent = String(Object.keys(announced).length);
      bar.hidden = false;
    }
  }

  // After a reconnect, events may have been missed: refresh the rows on screen.
  function refreshVisible() {
    document.querySelectorAll("#executions-rows tr[data-execution]").forEach(function (row) {
      pending[row.dataset.execution] = true;
    });
    if (!timer) timer = setTimeout(fetchRows, 150);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "executions-results") announced = {};
  });

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + live.dataset.feed);
    socket.onopen = function () {
      retryMs = 1000;
      setState("Live", true);
      if (connectedOnce) refreshVisible();
      connectedOnce = true;
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      // A frame is one event or an array of events.
      (Array.isArray(data) ? data : [data]).forEach(handle);
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403) {
        setState("Live updates unavailable", false);
        return;
      }
      setState("Reconnecting…", false);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  connect();
})();
