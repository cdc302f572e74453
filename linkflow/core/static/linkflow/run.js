// The run view: the execution's graph coloured by node status, kept current from the
// WebSocket feed /ws/executions/<id>/ (a snapshot, then events; a frame is one message or
// an array of them; ?after=<seq> on reconnect), and a node's runs loaded on click.
(function () {
  "use strict";

  var root = document.getElementById("run");
  if (!root) return;
  var ACTIVE = ["pending", "queued", "running", "waiting"];
  var executionId = root.dataset.execution;
  var graph = JSON.parse(document.getElementById("run-graph").textContent);
  var statuses = JSON.parse(document.getElementById("run-statuses").textContent);
  var status = root.dataset.status;
  var selected = null;
  var lastSeq = null;
  var retryDelay = 500;
  var badge = document.getElementById("run-status");
  var liveState = document.getElementById("live-state");
  var canvas = LinkflowGraph.create(document.getElementById("canvas"), {
    catalog: JSON.parse(document.getElementById("run-catalog").textContent), editable: false, onSelect: select,
    onMove: function () {}, onConnect: function () {}, onEdgeSelect: function () {}, onEdgeDelete: function () {},
  });

  // The same form the server renders times in (UTC, "YYYY-MM-DD HH:MM:SS").
  function stamp(iso) { return new Date(iso).toISOString().slice(0, 19).replace("T", " "); }

  function active() { return ACTIVE.indexOf(status) >= 0; }

  function draw() {
    var shown = {};
    graph.nodes.forEach(function (node) {
      var s = statuses[node.id];
      if (!s && active()) s = "queued";
      if (s) shown[node.id] = s;
    });
    canvas.render(graph, { status: shown, selected: selected });
  }

  function setStatus(next) {
    if (!next || next === status) return;
    status = next;
    root.dataset.status = next;
    badge.textContent = next;
    badge.className = "badge badge-" + next;
    badge.dataset.status = next;
    document.querySelectorAll(".run-actions [data-when]").forEach(function (form) {
      var when = form.dataset.when;
      form.hidden = when === "active" ? !active() : !(next === "failed" || next === "cancelled");
    });
  }

  function select(nodeId) {
    selected = nodeId;
    draw();
    loadNode();
  }

  function loadNode() {
    if (!selected) return;
    var url = root.dataset.nodeUrl.replace("NODE", encodeURIComponent(selected));
    window.htmx.ajax("GET", url, { target: "#node-detail", swap: "innerHTML" });
  }

  // --- the feed ---------------------------------------------------------------------------

  function apply(message) {
    if (!message || typeof message !== "object") return;
    if (typeof message.seq === "number") lastSeq = Math.max(lastSeq || 0, message.seq);
    var finishedNode = false;
    switch (message.type) {
      case "snapshot":
        var execution = message.execution || {};
        statuses = {};
        (execution.node_runs || []).forEach(function (run) { statuses[run.node_id] = run.status; });
        (message.running_nodes || []).forEach(function (id) { statuses[id] = "running"; });
        setStatus(execution.status);
        showError(execution.error);
        break;
      case "node.started":
        statuses[message.node_id] = "running";
        break;
      case "node.finished":
        statuses[message.node_id] = message.status;
        finishedNode = message.node_id === selected;
        break;
      case "execution.started":
        setStatus("running");
        if (message.started_at) document.getElementById("run-started").textContent = stamp(message.started_at);
        break;
      case "execution.waiting":
        setStatus("waiting");
        break;
      case "execution.finished":
        setStatus(message.status);
        showError(message.error);
        if (message.finished_at) document.getElementById("run-finished").textContent = stamp(message.finished_at);
        finishedNode = !!selected;
        break;
      default:
        return; // a kind of message this page does not know
    }
    draw();
    if (finishedNode) loadNode();
  }

  function showError(error) {
    var box = document.getElementById("run-error");
    if (!error) return;
    box.textContent = typeof error === "object" ? (error.message || JSON.stringify(error)) : String(error);
    box.hidden = false;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/ws/executions/" + executionId + "/";
    if (lastSeq !== null) url += "?after=" + lastSeq;
    var socket = new WebSocket(url);
    socket.addEventListener("open", function () { liveState.textContent = "live"; retryDelay = 500; });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      (Array.isArray(data) ? data : [data]).forEach(apply);
    });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401 || event.code === 4403) { liveState.textContent = "not allowed"; return; }
      if (!active()) { liveState.textContent = "finished"; return; }
      if (event.code === 4400) lastSeq = null; // a bad ?after: start again from a snapshot
      liveState.textContent = "reconnecting…";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }

  draw();
  connect();
})();
