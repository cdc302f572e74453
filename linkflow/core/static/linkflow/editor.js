// The workflow editor: palette, canvas (graph.js), side panel with a form generated from
// the node type's parameter JSON schema, connections, save with problems shown on nodes.
(function () {
  "use strict";

  var root = document.getElementById("editor");
  if (!root) return;
  var editable = root.dataset.editable === "true";
  var graph = readJson("editor-graph");
  var catalog = readJson("editor-catalog");
  var credentials = readJson("editor-credentials");
  var types = {};
  catalog.forEach(function (t) { types[t.type] = t; });
  var state = { selected: null, selectedEdge: null, dirty: false, problems: {}, invalidFields: {} };
  var statusLine = document.getElementById("editor-status");
  var panel = document.getElementById("side-panel");
  var banner = document.getElementById("graph-problems");
  var canvas = LinkflowGraph.create(document.getElementById("canvas"), {
    catalog: catalog, editable: editable,
    onSelect: selectNode, onMove: moved, onConnect: connect,
    onEdgeSelect: selectEdge, onEdgeDelete: removeEdge,
  });

  function readJson(id) { return JSON.parse(document.getElementById(id).textContent); }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key in node && key !== "list" && key !== "form") node[key] = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function nodeById(id) {
    for (var i = 0; i < graph.nodes.length; i++) if (graph.nodes[i].id === id) return graph.nodes[i];
    return null;
  }

  function redraw() {
    var invalid = {};
    Object.keys(state.problems).forEach(function (id) { invalid[id] = true; });
    canvas.render(graph, { selected: state.selected, selectedEdge: state.selectedEdge, invalid: invalid });
    root.classList.toggle("is-dirty", state.dirty);
    document.getElementById("canvas-empty").hidden = graph.nodes.length > 0;
  }

  function say(text) { statusLine.textContent = text; }

  function changed(message) {
    state.dirty = true;
    say(message || "Unsaved changes");
    redraw();
  }

  // --- selection and the side panel ---------------------------------------------------

  function selectNode(id) {
    state.selected = id;
    state.selectedEdge = null;
    redraw();
    renderPanel();
  }

  function selectEdge(index) {
    state.selected = null;
    state.selectedEdge = index;
    redraw();
    renderPanel();
  }

  function renderPanel() {
    panel.textContent = "";
    if (state.selectedEdge !== null && graph.edges[state.selectedEdge]) return renderEdgePanel();
    var node = state.selected && nodeById(state.selected);
    if (!node) {
      panel.appendChild(h("p", { className: "muted", text: editable
        ? "Select a node to edit it, or add one from the palette."
        : "Select a node to see its settings." }));
      return;
    }
    var type = types[node.type] || { label: node.type, description: "", params_schema: {}, outputs: ["main"], credential_types: [] };
    panel.appendChild(h("h2", { text: type.label }));
    panel.appendChild(h("p", { className: "muted small", text: type.description }));
    var problems = state.problems[node.id] || [];
    if (problems.length) {
      panel.appendChild(h("ul", { className: "errorlist nonfield node-problems", role: "alert" },
        problems.map(function (p) { return h("li", { text: (p.field ? p.field + ": " : "") + p.message }); })));
    }
    var form = h("form", { className: "node-form", novalidate: true });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.appendChild(idField(node));
    form.appendChild(textField("node-name", "Name", node.name || "", function (value) {
      if (value) node.name = value; else delete node.name;
    }));
    var schema = type.params_schema || {};
    var props = schema.properties || {};
    var required = schema.required || [];
    if (Object.keys(props).length) form.appendChild(h("h3", { text: "Parameters" }));
    Object.keys(props).forEach(function (name) {
      form.appendChild(paramField(node, name, props[name], required.indexOf(name) >= 0, problems));
    });
    if ((type.credential_types || []).length) form.appendChild(credentialField(node, type));
    form.appendChild(selectField("node-on-error", "On error", node.on_error || "fail",
      [["fail", "Fail the execution"], ["continue", "Continue with the error as an item"], ["error_output", "Send to the 'error' output"]],
      function (value) { if (value === "fail") delete node.on_error; else node.on_error = value; }));
    form.appendChild(h("div", { className: "hint small" }, [
      h("strong", { text: "Expressions: " }),
      h("span", { text: "a text value may use {{ json.field }} (the current item), {{ nodes.<id>.json.field }}, {{ nodes.<id>.items }}, {{ items }}, {{ trigger }}, {{ execution }} and {{ now }}." }),
    ]));
    if (!editable) Array.prototype.forEach.call(form.elements, function (input) { input.disabled = true; });
    panel.appendChild(form);
    panel.appendChild(connectionsSection(node, type));
    if (editable) {
      var remove = h("button", { type: "button", className: "btn btn-danger btn-small", text: "Delete node" });
      remove.addEventListener("click", function () {
        window.linkflowConfirm("Delete node '" + node.id + "' and its connections?", function () { deleteNode(node.id); });
      });
      panel.appendChild(h("p", {}, [remove]));
    }
  }

  function fieldWrap(id, label, input, help, errors) {
    var wrap = h("div", { className: "field" + (errors && errors.length ? " field-invalid" : "") }, [
      h("label", { htmlFor: id, text: label }), input,
    ]);
    if (help) wrap.appendChild(h("span", { className: "help", text: help }));
    var list = h("ul", { className: "errorlist", id: id + "-errors" });
    (errors || []).forEach(function (message) { list.appendChild(h("li", { text: message })); });
    wrap.appendChild(list);
    if (errors && errors.length) input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id + "-errors");
    return wrap;
  }

  function setErrors(id, messages) {
    var list = document.getElementById(id + "-errors");
    if (!list) return;
    list.textContent = "";
    messages.forEach(function (m) { list.appendChild(h("li", { text: m })); });
    list.parentNode.classList.toggle("field-invalid", messages.length > 0);
    document.getElementById(id).setAttribute("aria-invalid", messages.length ? "true" : "false");
  }

  function textField(id, label, value, apply, help, errors) {
    var input = h("input", { type: "text", id: id, value: value });
    input.addEventListener("input", function () { apply(input.value); changed(); });
    return fieldWrap(id, label, input, help, errors);
  }

  function selectField(id, label, value, options, apply, help) {
    var select = h("select", { id: id }, options.map(function (o) {
      return h("option", { value: o[0], text: o[1] });
    }));
    select.value = value;
    select.addEventListener("change", function () { apply(select.value); changed(); });
    return fieldWrap(id, label, select, help);
  }

  function idField(node) {
    var input = h("input", { type: "text", id: "node-id", value: node.id, pattern: "[A-Za-z0-9_-]+", maxLength: 64 });
    input.addEventListener("change", function () {
      var next = input.value.trim();
      if (next === node.id) return setErrors("node-id", []);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(next)) return setErrors("node-id", ["Use letters, digits, '_' and '-'."]);
      if (nodeById(next)) return setErrors("node-id", ["Another node already has this id."]);
      graph.edges.forEach(function (edge) {
        if (edge.source === node.id) edge.source = next;
        if (edge.target === node.id) edge.target = next;
      });
      if (state.problems[node.id]) { state.problems[next] = state.problems[node.id]; delete state.problems[node.id]; }
      node.id = next;
      state.selected = next;
      changed();
      renderPanel();
    });
    return fieldWrap("node-id", "Node id", input, "Other nodes refer to it as nodes." + node.id + ".");
  }

  // --- parameters from the JSON schema ------------------------------------------------

  function isExpression(schema) { return schema && schema.type === "string" && schema.pattern === "\\{\\{"; }

  // The widget for a parameter: its base schema (expression alternatives aside) and kind.
  function widgetFor(schema) {
    var base = schema, expr = false;
    if (schema.anyOf) {
      var plain = schema.anyOf.filter(function (s) { return !isExpression(s); });
      expr = plain.length < schema.anyOf.length;
      base = plain.length === 1 ? plain[0] : { anyOf: plain };
    }
    if (base.enum) return { kind: "enum", options: base.enum, expr: expr };
    if (base.type === "boolean") return { kind: expr ? "scalar" : "boolean" };
    if (base.type === "integer" || base.type === "number") return { kind: expr ? "scalar" : "number" };
    if (base.type === "string") return { kind: "string" };
    if (Array.isArray(base.type) && base.type.indexOf("object") < 0 && base.type.indexOf("array") < 0) return { kind: "scalar" };
    return { kind: "json" };
  }

  function paramField(node, name, schema, required, problems) {
    node.params = node.params || {};
    var params = node.params;
    var id = "param-" + name;
    var widget = widgetFor(schema);
    var value = params[name];
    var label = name + (required ? " *" : "");
    var help = schema.description || "";
    var errors = problems.filter(function (p) {
      return p.field === "params." + name || (p.field || "").indexOf("params." + name + ".") === 0 || (p.field || "").indexOf("params." + name + "[") === 0;
    }).map(function (p) { return p.message; });
    var input;
    function apply(next) {
      if (next === undefined) delete params[name]; else params[name] = next;
      changed();
    }
    if (widget.kind === "boolean") {
      input = h("input", { type: "checkbox", id: id, checked: value === undefined ? !!schema.default : !!value });
      input.addEventListener("change", function () { apply(input.checked); });
      var wrap = fieldWrap(id, label, input, help, errors);
      wrap.classList.add("field-checkbox");
      return wrap;
    }
    if (widget.kind === "enum") {
      var options = [["", required ? "Choose…" : "(default" + (schema.default !== undefined ? ": " + schema.default : "") + ")"]];
      widget.options.forEach(function (o) { if (o !== null) options.push([String(o), String(o)]); });
      input = h("select", { id: id }, options.map(function (o) { return h("option", { value: o[0], text: o[1] }); }));
      input.value = value === undefined || value === null ? "" : String(value);
      input.addEventListener("change", function () {
        var chosen = widget.options.filter(function (o) { return String(o) === input.value; })[0];
        apply(input.value === "" ? undefined : chosen);
      });
      return fieldWrap(id, label, input, help, errors);
    }
    if (widget.kind === "json") {
      input = h("textarea", { id: id, rows: 4, spellcheck: false, value: value === undefined ? "" : JSON.stringify(value, null, 2) });
      input.addEventListener("input", function () {
        var text = input.value.trim();
        if (!text) { delete state.invalidFields[id]; setErrors(id, []); return apply(undefined); }
        try {
          var parsed = JSON.parse(text);
          delete state.invalidFields[id];
          setErrors(id, []);
          apply(parsed);
        } catch (e) {
          state.invalidFields[id] = true;
          setErrors(id, ["Not valid JSON yet: " + e.message]);
        }
      });
      return fieldWrap(id, label, input, (help ? help + " " : "") + "JSON.", errors);
    }
    var isLong = name === "code" || name === "html" || name === "text";
    var shown = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    input = isLong ? h("textarea", { id: id, rows: 6, spellcheck: false, value: shown })
      : h("input", { type: widget.kind === "number" ? "number" : "text", id: id, value: shown, step: "any" });
    if (schema.default !== undefined && !isLong) input.placeholder = String(schema.default);
    input.addEventListener("input", function () {
      var text = input.value;
      if (text === "") return apply(undefined);
      if (widget.kind === "number") return apply(Number(text));
      if (widget.kind === "scalar" && /^(true|false|null|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(text.trim())) return apply(JSON.parse(text.trim()));
      apply(text);
    });
    return fieldWrap(id, label, input, help, errors);
  }

  function credentialField(node, type) {
    var fitting = credentials.filter(function (c) { return type.credential_types.indexOf(c.type) >= 0; });
    var options = [["", "No credential"]].concat(fitting.map(function (c) { return [c.id, c.name + " (" + c.type + ")"]; }));
    if (node.credential && !fitting.some(function (c) { return c.id === node.credential; })) {
      options.push([node.credential, "Unknown credential " + node.credential]);
    }
    var help = fitting.length ? "Credentials of type " + type.credential_types.join(", ") + " in this workspace."
      : "No " + type.credential_types.join(" / ") + " credential in this workspace yet: add one on the Credentials page.";
    return selectField("node-credential", "Credential", node.credential || "", options, function (value) {
      if (value) node.credential = value; else delete node.credential;
    }, help);
  }

  // --- connections --------------------------------------------------------------------

  function connectionsSection(node, type) {
    var section = h("section", { className: "connections" }, [h("h3", { text: "Connections" })]);
    var list = h("ul", { className: "connection-list" });
    graph.edges.forEach(function (edge, index) {
      if (edge.source !== node.id && edge.target !== node.id) return;
      var text = edge.source + " (" + (edge.output || "main") + ") → " + edge.target;
      var item = h("li", {}, [h("span", { text: text })]);
      if (editable) {
        var remove = h("button", { type: "button", className: "btn btn-small", text: "Remove", "aria-label": "Remove connection " + text });
        remove.addEventListener("click", function () { removeEdge(index); });
        item.appendChild(remove);
      }
      list.appendChild(item);
    });
    if (!list.children.length) list.appendChild(h("li", { className: "muted", text: "No connections yet." }));
    section.appendChild(list);
    if (!editable) return section;
    var targets = graph.nodes.filter(function (n) { return n.id !== node.id && !(types[n.type] || {}).is_trigger; });
    if (!targets.length) return section;
    var ports = canvas.outputsOf(node);
    var target = h("select", { id: "connect-target" }, targets.map(function (n) {
      return h("option", { value: n.id, text: (n.name || n.id) + " (" + n.id + ")" });
    }));
    var port = h("select", { id: "connect-port" }, ports.map(function (p) { return h("option", { value: p, text: p }); }));
    var add = h("button", { type: "button", className: "btn btn-small", text: "Connect" });
    add.addEventListener("click", function () { connect(node.id, port.value, target.value); });
    section.appendChild(h("div", { className: "connect-row" }, [
      fieldWrap("connect-target", "Connect to", target),
      ports.length > 1 ? fieldWrap("connect-port", "From output", port) : null,
      add,
    ]));
    return section;
  }

  function connect(source, port, target) {
    if (!editable) return;
    var node = nodeById(target);
    if (!node || source === target) return;
    if ((types[node.type] || {}).is_trigger) return say("A trigger cannot have incoming connections.");
    var exists = graph.edges.some(function (e) { return e.source === source && e.target === target && (e.output || "main") === port; });
    if (exists) return say("These nodes are already connected.");
    var edge = { source: source, target: target };
    if (port && port !== "main") edge.output = port;
    graph.edges.push(edge);
    changed("Connected " + source + " → " + target + " (unsaved)");
    renderPanel();
  }

  function removeEdge(index) {
    if (!editable) return;
    var edge = graph.edges[index];
    graph.edges.splice(index, 1);
    state.selectedEdge = null;
    changed("Removed connection " + edge.source + " → " + edge.target + " (unsaved)");
    renderPanel();
  }

  function renderEdgePanel() {
    var edge = graph.edges[state.selectedEdge];
    var index = state.selectedEdge;
    panel.appendChild(h("h2", { text: "Connection" }));
    panel.appendChild(h("p", { text: edge.source + " (" + (edge.output || "main") + ") → " + edge.target }));
    if (editable) {
      var remove = h("button", { type: "button", className: "btn btn-danger btn-small", text: "Remove connection" });
      remove.addEventListener("click", function () { removeEdge(index); });
      panel.appendChild(remove);
    }
  }

  // --- adding, deleting and moving nodes ----------------------------------------------

  function freeSpot() {
    var anchor = state.selected && nodeById(state.selected);
    var spot = anchor && anchor.position ? { x: anchor.position.x + 270, y: anchor.position.y }
      : { x: 40, y: 40 };
    if (!anchor && graph.nodes.length) {
      spot.y = 40 + Math.max.apply(null, graph.nodes.map(function (n) { return (n.position || { y: 0 }).y; })) + 100;
    }
    var taken = function () {
      return graph.nodes.some(function (n) {
        var p = n.position || { x: 0, y: 0 };
        return Math.abs(p.x - spot.x) < 180 && Math.abs(p.y - spot.y) < 80;
      });
    };
    while (taken()) spot.y += 100;
    return spot;
  }

  function addNode(typeName) {
    var type = types[typeName];
    var base = typeName.split(".")[1].replace(/[^A-Za-z0-9_-]/g, "");
    var n = 1;
    while (nodeById(base + "_" + n)) n++;
    var node = { id: base + "_" + n, type: typeName, version: type.version, name: type.label, params: {}, position: freeSpot() };
    graph.nodes.push(node);
    state.selected = node.id;
    state.selectedEdge = null;
    changed("Added " + type.label + " (unsaved)");
    renderPanel();
    var first = panel.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function deleteNode(id) {
    graph.nodes = graph.nodes.filter(function (n) { return n.id !== id; });
    graph.edges = graph.edges.filter(function (e) { return e.source !== id && e.target !== id; });
    delete state.problems[id];
    state.selected = null;
    changed("Deleted " + id + " (unsaved)");
    renderPanel();
  }

  function moved() {
    // Places are saved at once, beside the versions (a move makes no version); pending
    // edits stay pending and the status line keeps saying so.
    var positions = {};
    graph.nodes.forEach(function (n) { if (n.position) positions[n.id] = n.position; });
    fetch(root.dataset.layoutUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.linkflowCsrfToken() },
      body: JSON.stringify({ positions: positions }),
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      say(state.dirty ? "Position saved; other changes are not saved yet." : "Position saved.");
    }).catch(function () { say("Could not save the position: try again."); });
  }

  // --- saving -------------------------------------------------------------------------

  function save(doneText) {
    if (Object.keys(state.invalidFields).length) {
      say("Fix the fields marked invalid first.");
      return Promise.resolve();
    }
    say("Saving…");
    return fetch(root.dataset.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.linkflowCsrfToken() },
      body: JSON.stringify({ graph: graph }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) { saved(response, body, doneText); });
    }).catch(function () { say("Could not reach the server: nothing was lost, try again."); });
  }

  function saved(response, body, doneText) {
    state.problems = {};
    banner.hidden = true;
    banner.textContent = "";
    if (response.ok) {
      state.dirty = false;
      document.getElementById("editor-version").textContent = "v" + body.version;
      root.dataset.version = body.version;
      say(body.created ? (doneText || "Saved") + " as version " + body.version + "." : "No changes to save.");
    } else {
      var error = body.error || { message: "The server refused the save (" + response.status + ")." };
      var problems = (error.details && error.details.problems) || [];
      var loose = [];
      problems.forEach(function (p) {
        if (p.node_id && nodeById(p.node_id)) (state.problems[p.node_id] = state.problems[p.node_id] || []).push(p);
        else loose.push(p);
      });
      if (!problems.length) loose.push({ message: error.message });
      if (loose.length) {
        banner.appendChild(h("ul", {}, loose.map(function (p) {
          return h("li", { text: (p.field ? p.field + ": " : "") + p.message });
        })));
        banner.hidden = false;
      }
      say("Not saved: " + (problems.length || 1) + " problem(s). " + (problems.length ? "Nodes with problems are outlined in red." : ""));
    }
    redraw();
    renderPanel();
  }

  // --- wiring ---------------------------------------------------------------------------

  if (editable) {
    document.getElementById("save-button").addEventListener("click", function () { save(); });
    document.querySelectorAll("[data-add-type]").forEach(function (button) {
      button.addEventListener("click", function () { addNode(button.dataset.addType); });
    });
    var filter = document.getElementById("palette-filter");
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase();
      document.querySelectorAll("[data-add-type]").forEach(function (b) {
        b.parentNode.hidden = q && b.textContent.toLowerCase().indexOf(q) < 0 && b.dataset.addType.indexOf(q) < 0;
      });
    });
    window.addEventListener("beforeunload", function (event) {
      if (state.dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save(); }
    });
  }
  redraw();
  renderPanel();
})();
