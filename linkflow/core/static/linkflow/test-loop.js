// The build-test loop's buttons (docs/editor-loop.md), on top of the API:
// in the editor "Test workflow", "Test step" on the selected node (its input and output
// side by side when done), pin / unpin its output, "Listen for test event" with the
// test URL to copy; in the run view "Debug in editor". Before a test runs nodes with
// outside effects for real (a request, a mail, a row) it asks first; under expression
// fields a live preview and completion of `json.`, `nodes.` and the current item's keys.
// Kept apart from editor.js, which owns the canvas: it reads the live graph through
// window.linkflowEditorGraph() (unsaved edits included), and the selected node from the
// side panel.
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

    // A test runs nodes with outside effects for real, as in n8n: ask the plan first and,
    // when it would send something, say what and wait for a yes.
    function run(node) {
      var body = { graph: graph() };
      if (node) body.node = node;
      api("POST", "workflows/" + workflowId + "/test/plan", body)
        .then(function (plan) {
          if (!plan.outside_effects.length) return start(body);
          confirmOutside(plan.outside_effects, function () { start(body); });
        })
        .catch(function (error) { say("Test failed to start: " + error.message); });
    }

    function confirmOutside(nodeIds, proceed) {
      var kinds = {};
      graph().nodes.forEach(function (n) { kinds[n.id] = n.type; });
      var names = nodeIds.map(function (id) { return id + " (" + kinds[id] + ")"; }).join(", ");
      var go = button("test-confirm", "Run for real");
      var cancel = button("test-cancel", "Cancel");
      go.classList.add("btn-primary");
      go.addEventListener("click", proceed);
      cancel.addEventListener("click", function () { say("Test cancelled: nothing ran."); });
      var actions = el("p", { "class": "test-loop-actions" });
      actions.appendChild(go);
      actions.appendChild(cancel);
      show([el("p", { id: "test-loop-status", role: "alert" }, "This test runs " + names +
        " for real: what they send leaves LinkFlow, as in a production run. Pin their " +
        "output to test without it."), actions]);
      go.focus();
    }

    function start(body) {
      say(body.node ? "Testing step " + body.node + "…" : "Testing the workflow…");
      api("POST", "workflows/" + workflowId + "/test", body)
        .then(function (execution) { return waitFinished(execution.id); })
        .then(function (execution) { lastRun = execution; report(execution, body.node); })
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
    // Completion of what the cursor is in: after `json.` the current item's keys (deeper
    // after `json.a.`), after `nodes.` the other nodes' ids, after `nodes.<id>.` its
    // `json` and `items`, after `nodes.<id>.json.` its first item's keys. Items come from
    // the last test run (what the editor has seen), as n8n's come from the last execution.
    var IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
    var completion = { box: null, input: null, options: [], active: 0, partial: "" };

    function runOf(nodeId) {
      return lastRun && lastRun.node_runs.filter(function (r) { return r.node_id === nodeId; }).slice(-1)[0];
    }
    function firstOutputItem(nodeId) {
      var run = runOf(nodeId);
      if (!run || !run.output) return null;
      var ports = run.output.main ? ["main"] : Object.keys(run.output);
      var items = ports.length ? run.output[ports[0]] : null;
      return items && items.length ? items[0] : null;
    }
    function currentItem(nodeId) {
      var run = runOf(nodeId);
      if (run && run.input && run.input.length) return run.input[0];
      var edge = graph().edges.filter(function (e) { return e.target === nodeId; })[0];
      return edge ? firstOutputItem(edge.source) : null;
    }
    function keysAt(value, path) {
      path.forEach(function (key) { value = value && typeof value === "object" ? value[key] : null; });
      // Sorted: PostgreSQL does not keep an object's key order, so only this order is stable.
      return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value).sort() : [];
    }
    function candidates(before, nodeId) {
      if (before.lastIndexOf("{{") <= before.lastIndexOf("}}")) return null;  // not in {{ }}
      var match = /([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\.([A-Za-z0-9_]*)$/.exec(before);
      if (!match) return null;
      var path = match[1].split("."), names = [];
      if (path[0] === "json") names = keysAt(currentItem(nodeId), path.slice(1));
      else if (path[0] === "nodes" && path.length === 1) {
        names = graph().nodes.map(function (n) { return n.id; })
          .filter(function (id) { return id !== nodeId && IDENT.test(id); });
      } else if (path[0] === "nodes" && path.length === 2) names = ["json", "items"];
      else if (path[0] === "nodes" && path[2] === "json") names = keysAt(firstOutputItem(path[1]), path.slice(3));
      names = names.filter(function (n) { return n.indexOf(match[2]) === 0 && n !== match[2]; });
      return names.length ? { names: names, partial: match[2] } : null;
    }
    function closeCompletion() {
      if (completion.box) completion.box.remove();
      completion.box = null;
      completion.options = [];
    }
    function accept(name) {
      var input = completion.input, at = input.selectionStart;
      var head = input.value.slice(0, at - completion.partial.length);
      input.value = head + name + input.value.slice(at);
      input.setSelectionRange(head.length + name.length, head.length + name.length);
      closeCompletion();
      input.dispatchEvent(new Event("input", { bubbles: true }));  // the editor applies it
    }
    function highlight() {
      completion.options.forEach(function (li, index) {
        li.setAttribute("aria-selected", index === completion.active ? "true" : "false");
      });
    }
    function complete(input) {
      var found = candidates(input.value.slice(0, input.selectionStart), selectedNode());
      closeCompletion();
      if (!found) return;
      completion.input = input;
      completion.partial = found.partial;
      completion.active = 0;
      completion.box = el("ul", { "class": "expression-completion", role: "listbox",
        "aria-label": "Completions" });
      completion.options = found.names.map(function (name) {
        var li = el("li", { role: "option" }, name);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); accept(name); });
        completion.box.appendChild(li);
        return li;
      });
      highlight();
      input.insertAdjacentElement("afterend", completion.box);
    }
    if (sidePanel) {
      sidePanel.addEventListener("input", function (event) {
        var input = event.target;
        if (!input.matches || !input.matches("input[type=text], textarea")) return;
        complete(input);
        clearTimeout(pending);
        pending = setTimeout(function () { previewFor(input); }, 250);  // debounced
      });
      sidePanel.addEventListener("keydown", function (event) {
        if (!completion.box || event.target !== completion.input) return;
        var count = completion.options.length;
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          event.preventDefault();
          completion.active = (completion.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
          highlight();
        } else if (event.key === "Enter" || event.key === "Tab") {
          event.preventDefault();
          accept(completion.options[completion.active].textContent);
        } else if (event.key === "Escape") {
          closeCompletion();
        }
      });
      sidePanel.addEventListener("focusout", function () { setTimeout(closeCompletion, 0); });
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
