// The build-test loop's buttons (docs/editor-loop.md), on top of the API:
// in the editor "Test workflow", "Test step" on the selected node (its input and output
// side by side when done), pin / unpin its output, "Listen for test event" with the
// test URL to copy; in the run view "Debug in editor". Kept apart from editor.js, which
// owns the canvas: it reads the live graph through window.linkflowEditorGraph() when the
// editor offers it, else the saved graph, and the selected node from the side panel.
(function () {
  "use strict";
  var UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
  var FINISHED = ["succeeded", "failed", "cancelled"];

  function api(method, path, body) {
    return fetch("/api/v1/" + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.linkflowCsrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return {};
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
        return data;
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }

  function button(id, label) {
    return el("button", { type: "button", id: id, "class": "btn" }, label);
  }

  function pretty(value) { return JSON.stringify(value, null, 2); }

  function waitFinished(executionId) {
    return api("GET", "executions/" + executionId + "/").then(function (execution) {
      if (FINISHED.indexOf(execution.status) >= 0) return execution;
      return new Promise(function (resolve) { setTimeout(resolve, 500); })
        .then(function () { return waitFinished(executionId); });
    });
  }

  function editorLoop(root) {
    var workflowId = (root.dataset.saveUrl.match(UUID) || [])[0];
    var toolbar = root.querySelector(".toolbar");
    if (!workflowId || !toolbar || root.dataset.editable !== "true") return;
    var panel = el("section", { id: "test-loop", "class": "card test-loop", "aria-live": "polite" });
    panel.hidden = true;
    root.appendChild(panel);
    var lastRun = null;

    function graph() {
      if (typeof window.linkflowEditorGraph === "function") return window.linkflowEditorGraph();
      return JSON.parse(document.getElementById("editor-graph").textContent);
    }
    function selectedNode() {
      var input = document.getElementById("node-id");
      return input ? input.value : null;
    }
    function show(parts) {
      panel.hidden = false;
      panel.textContent = "";
      parts.forEach(function (part) { if (part) panel.appendChild(part); });
    }
    function say(text) { show([el("p", { id: "test-loop-status" }, text)]); }

    function run(node) {
      var body = { graph: graph() };
      if (node) body.node = node;
      say(node ? "Testing step " + node + "…" : "Testing the workflow…");
      api("POST", "workflows/" + workflowId + "/test", body)
        .then(function (execution) { return waitFinished(execution.id); })
        .then(function (execution) { lastRun = execution; report(execution, node); })
        .catch(function (error) { say("Test failed to start: " + error.message); });
    }

    function report(execution, node) {
      var link = el("a", { href: "/executions/" + execution.id + "/" }, "Open the run");
      var status = el("p", { id: "test-loop-status" }, "Test run " + execution.status + ". ");
      status.appendChild(link);
      var runs = execution.node_runs.filter(function (r) { return !node || r.node_id === node; });
      var shown = runs.slice(-1).map(function (r) {
        var sides = el("div", { "class": "test-loop-io" });
        var input = el("pre", { id: "test-step-input", "aria-label": "Input of " + r.node_id }, pretty(r.input));
        var output = el("pre", { id: "test-step-output", "aria-label": "Output of " + r.node_id },
          pretty(r.error && !r.error.warning ? r.error : r.output));
        sides.appendChild(input);
        sides.appendChild(output);
        return sides;
      });
      show([status].concat(shown));
    }

    function pin() {
      var node = selectedNode();
      if (!node) return say("Select a node to pin its output.");
      var run = lastRun && lastRun.node_runs.filter(function (r) { return r.node_id === node; }).slice(-1)[0];
      if (!run) return say("Test the step first: its output is what gets pinned.");
      api("PUT", "workflows/" + workflowId + "/pinned/" + encodeURIComponent(node), { from_node_run: run.id })
        .then(function () { say("Pinned the output of " + node + ": test runs use it instead of running it."); })
        .catch(function (error) { say("Could not pin: " + error.message); });
    }

    function unpin() {
      var node = selectedNode();
      if (!node) return say("Select a node to unpin.");
      api("DELETE", "workflows/" + workflowId + "/pinned/" + encodeURIComponent(node))
        .then(function () { say("Unpinned " + node + "."); })
        .catch(function (error) { say("Could not unpin: " + error.message); });
    }

    function listen() {
      Promise.all([
        api("POST", "workflows/" + workflowId + "/listen", {}),
        api("GET", "workflows/" + workflowId + "/"),
      ]).then(function (answers) {
        var urls = answers[1].webhooks.map(function (w) { return w.test_url; });
        var field = el("input", { id: "test-url", type: "text", readonly: "readonly", value: urls[0] || "" });
        show([el("p", { id: "test-loop-status" }, "Listening until " + answers[0].listening_until +
          ": call the test URL once."), field]);
        field.select();
      }).catch(function (error) { say("Could not listen: " + error.message); });
    }

    // A live preview under any panel field holding an expression, as one types: evaluated
    // by the API in the run's sandbox, on the last test run's data for the selected node.
    var sidePanel = document.getElementById("side-panel");
    var pending = null;
    function previewFor(input) {
      var box = input.parentNode.querySelector(".expression-preview");
      if (input.value.indexOf("{{") < 0) { if (box) box.remove(); return; }
      if (!box) {
        box = el("p", { "class": "expression-preview small", "aria-live": "polite" });
        input.insertAdjacentElement("afterend", box);
      }
      var body = { expression: input.value };
      var node = selectedNode();
      var ran = lastRun && node && lastRun.node_runs.some(function (r) { return r.node_id === node; });
      if (ran) { body.execution = lastRun.id; body.node = node; }
      api("POST", "expressions/preview", body).then(function (answer) {
        box.classList.toggle("preview-error", Boolean(answer.error));
        box.textContent = answer.error
          ? "Error at " + answer.error.position + ": " + answer.error.message
          : "= " + JSON.stringify(answer.value);
      }).catch(function (error) { box.textContent = error.message; });
    }
    if (sidePanel) {
      sidePanel.addEventListener("input", function (event) {
        var input = event.target;
        if (!input.matches || !input.matches("input[type=text], textarea")) return;
        clearTimeout(pending);
        pending = setTimeout(function () { previewFor(input); }, 250);  // debounced
      });
    }

    var tools = [
      [button("test-workflow", "Test workflow"), function () { run(null); }],
      [button("test-step", "Test step"), function () {
        var node = selectedNode();
        if (!node) return say("Select a node to test it.");
        run(node);
      }],
      [button("pin-output", "Pin output"), pin],
      [button("unpin-output", "Unpin"), unpin],
      [button("listen", "Listen for test event"), listen],
    ];
    tools.forEach(function (tool) {
      tool[0].addEventListener("click", tool[1]);
      toolbar.appendChild(tool[0]);
    });
  }

  function runLoop(root) {
    var actions = root.querySelector(".run-actions");
    var editLink = root.querySelector(".run-summary a[href*='/edit/']");
    if (!actions || !editLink) return;
    var debug = button("debug-in-editor", "Debug in editor");
    debug.addEventListener("click", function () {
      api("POST", "executions/" + root.dataset.execution + "/debug", {})
        .then(function () { window.location.href = editLink.getAttribute("href"); })
        .catch(function (error) { debug.textContent = "Debug failed: " + error.message; });
    });
    actions.appendChild(debug);
  }

  var editor = document.getElementById("editor");
  if (editor) editorLoop(editor);
  var run = document.getElementById("run");
  if (run) runLoop(run);
})();
