// The workflow editor: palette, canvas (graph.js), and a side panel whose form is built
// from the node-types registry's schemas (the parameters' JSON Schema and the settings
// schema every node shares) with generic widgets only: text, number, select, checkbox,
// key/value rows for objects of values (with raw JSON as the alternative), a list of
// sub-forms for arrays of objects, and JSON for anything else.
//
// Canvas: undo/redo (Ctrl+Z, Ctrl+Shift+Z or Ctrl+Y; 100 steps of whole-graph snapshots),
// copy/cut/paste of the selection as JSON through the page's clipboard events, Delete or
// Backspace on the selection, shift-click and shift-drag box selection, zoom, pan and fit,
// sticky notes (kept in the layout, not the graph) and, from the latest execution, how
// many items crossed each edge.
(function () {
  "use strict";

  var root = document.getElementById("editor");
  if (!root) return;
  var editable = root.dataset.editable === "true";
  var graph = readJson("editor-graph");
  graph.nodes = graph.nodes || [];
  graph.edges = graph.edges || []; // optional in a stored graph
  var notes = readJson("editor-notes");
  var noteColors = readJson("editor-note-colors");
  var catalog = readJson("editor-catalog");
  var credentials = readJson("editor-credentials");
  var types = {};
  catalog.forEach(function (t) { types[t.type] = t; });
  var HISTORY_LIMIT = 100;
  var state = {
    selected: null, selectedEdge: null, selectedNote: null,
    sel: { nodes: {}, notes: {} },
    problems: {}, invalidFields: {}, runCounts: null,
  };
  var history = { undo: [], redo: [], lastKey: null };
  var savedKey = graphKey(graph);
  var statusLine = document.getElementById("editor-status");
  var panel = document.getElementById("side-panel");
  var banner = document.getElementById("graph-problems");
  var canvas = LinkflowGraph.create(document.getElementById("canvas"), {
    catalog: catalog, editable: editable, viewport: true,
    onSelect: selectNode, onMove: moved, onConnect: connect,
    onEdgeSelect: selectEdge, onEdgeDelete: removeEdge, onBoxSelect: boxSelect,
    onNoteSelect: selectNote, onNoteChange: noteGeometryChanged, onBackgroundClick: clearSelection,
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

  function button(text, onClick, className, label) {
    var b = h("button", { type: "button", className: "btn btn-small" + (className ? " " + className : ""), text: text });
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  function nodeById(id) {
    for (var i = 0; i < graph.nodes.length; i++) if (graph.nodes[i].id === id) return graph.nodes[i];
    return null;
  }

  function noteById(id) {
    for (var i = 0; i < notes.length; i++) if (notes[i].id === id) return notes[i];
    return null;
  }

  // The graph without the nodes' places: what decides whether there is something to save.
  function graphKey(g) {
    return JSON.stringify({
      nodes: g.nodes.map(function (n) { var c = Object.assign({}, n); delete c.position; return c; }),
      edges: g.edges,
    });
  }

  function isDirty() { return graphKey(graph) !== savedKey; }

  function edgeCounts() {
    if (!state.runCounts) return null;
    var counts = {};
    graph.edges.forEach(function (edge, index) {
      var key = edge.source + "\u0000" + (edge.output || "main");
      if (state.runCounts[key] !== undefined) counts[index] = state.runCounts[key];
    });
    return counts;
  }

  function redraw() {
    var invalid = {};
    Object.keys(state.problems).forEach(function (id) { invalid[id] = true; });
    canvas.render(graph, {
      selected: state.selected, selection: state.sel.nodes, selectedEdge: state.selectedEdge,
      invalid: invalid, notes: notes, selectedNotes: state.sel.notes, edgeCounts: edgeCounts(),
    });
    root.classList.toggle("is-dirty", isDirty());
    document.getElementById("canvas-empty").hidden = graph.nodes.length > 0 || notes.length > 0;
    if (editable) {
      document.getElementById("undo-button").disabled = !history.undo.length;
      document.getElementById("redo-button").disabled = !history.redo.length;
    }
  }

  function say(text) { statusLine.textContent = text; }

  function changed(message) {
    say(message || (isDirty() ? "Unsaved changes" : "All changes saved."));
    redraw();
  }

  // --- undo and redo: whole snapshots of the graph and the notes ---------------------

  function snapshot() { return JSON.stringify({ graph: graph, notes: notes }); }

  function pushUndo(text) {
    history.undo.push(text || snapshot());
    if (history.undo.length > HISTORY_LIMIT) history.undo.shift();
    history.redo = [];
  }

  // Record the state before a change, then make it. Edits sharing a `key` (typing in one
  // field) make one step together, so undo takes back the whole word, not a letter.
  function mutate(message, fn, key) {
    if (!key || key !== history.lastKey) pushUndo();
    history.lastKey = key || null;
    fn();
    changed(message);
  }

  // `word` is what the layout save says when it lands, so a save that the restore set off
  // cannot overwrite "Undone" with "Layout saved." a moment later.
  function restore(text, word) {
    var data = JSON.parse(text);
    var positionsBefore = JSON.stringify(graph.nodes.map(function (n) { return [n.id, n.position]; }));
    var notesBefore = JSON.stringify(notes);
    graph = data.graph;
    notes = data.notes;
    history.lastKey = null;
    state.invalidFields = {};
    Object.keys(state.sel.nodes).forEach(function (id) { if (!nodeById(id)) delete state.sel.nodes[id]; });
    Object.keys(state.sel.notes).forEach(function (id) { if (!noteById(id)) delete state.sel.notes[id]; });
    if (state.selected && !nodeById(state.selected)) state.selected = null;
    if (state.selectedNote && !noteById(state.selectedNote)) state.selectedNote = null;
    state.selectedEdge = null;
    var positionsAfter = JSON.stringify(graph.nodes.map(function (n) { return [n.id, n.position]; }));
    if (positionsBefore !== positionsAfter || notesBefore !== JSON.stringify(notes)) saveLayout(word);
    renderPanel();
  }

  function undo() {
    if (!editable || !history.undo.length) return say("Nothing to undo.");
    history.redo.push(snapshot());
    restore(history.undo.pop(), "Undone");
    changed("Undone" + (isDirty() ? " (unsaved)" : ""));
  }

  function redo() {
    if (!editable || !history.redo.length) return say("Nothing to redo.");
    history.undo.push(snapshot());
    restore(history.redo.pop(), "Redone");
    changed("Redone" + (isDirty() ? " (unsaved)" : ""));
  }

  // --- selection and the side panel ---------------------------------------------------

  function clearSelection() {
    state.selected = null; state.selectedEdge = null; state.selectedNote = null;
    state.sel = { nodes: {}, notes: {} };
    redraw();
    renderPanel();
  }

  function selectionSize() { return Object.keys(state.sel.nodes).length + Object.keys(state.sel.notes).length; }

  function selectNode(id, how) {
    state.selectedEdge = null;
    if (how && how.shift) {
      if (state.sel.nodes[id]) delete state.sel.nodes[id]; else state.sel.nodes[id] = true;
    } else {
      state.sel = { nodes: {}, notes: {} };
      state.sel.nodes[id] = true;
    }
    var ids = Object.keys(state.sel.nodes);
    state.selected = ids.length === 1 && !Object.keys(state.sel.notes).length ? ids[0] : null;
    state.selectedNote = null;
    redraw();
    renderPanel();
  }

  function selectNote(id, how) {
    state.selectedEdge = null;
    state.selected = null;
    if (how && how.shift) {
      if (state.sel.notes[id]) delete state.sel.notes[id]; else state.sel.notes[id] = true;
    } else {
      state.sel = { nodes: {}, notes: {} };
      state.sel.notes[id] = true;
    }
    var ids = Object.keys(state.sel.notes);
    state.selectedNote = ids.length === 1 && !Object.keys(state.sel.nodes).length ? ids[0] : null;
    redraw();
    renderPanel();
  }

  function boxSelect(nodeIds, noteIds) {
    state.sel = { nodes: {}, notes: {} };
    nodeIds.forEach(function (id) { state.sel.nodes[id] = true; });
    noteIds.forEach(function (id) { state.sel.notes[id] = true; });
    state.selected = nodeIds.length === 1 && !noteIds.length ? nodeIds[0] : null;
    state.selectedNote = noteIds.length === 1 && !nodeIds.length ? noteIds[0] : null;
    state.selectedEdge = null;
    redraw();
    renderPanel();
  }

  function selectEdge(index) {
    state.selected = null;
    state.selectedNote = null;
    state.sel = { nodes: {}, notes: {} };
    state.selectedEdge = index;
    redraw();
    renderPanel();
  }

  function renderPanel() {
    panel.textContent = "";
    if (state.selectedEdge !== null && graph.edges[state.selectedEdge]) return renderEdgePanel();
    if (state.selectedNote && noteById(state.selectedNote)) return renderNotePanel(noteById(state.selectedNote));
    var node = state.selected && nodeById(state.selected);
    if (!node && selectionSize() > 1) return renderSelectionPanel();
    if (!node) {
      panel.appendChild(h("p", { className: "muted", text: editable
        ? "Select a node to edit it, or add one from the palette. Shift-click or shift-drag selects several."
        : "Select a node to see its settings." }));
      return;
    }
    var type = types[node.type] || { label: node.type, description: "", params_schema: {}, outputs: ["main"], credential_types: [], settings_schema: {} };
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
    }, "name:" + node.id));
    var schema = type.params_schema || {};
    var props = schema.properties || {};
    var required = schema.required || [];
    if (Object.keys(props).length) form.appendChild(h("h3", { text: "Parameters" }));
    node.params = node.params || {};
    Object.keys(props).forEach(function (name) {
      form.appendChild(widget({
        id: "param-" + name, label: name + (required.indexOf(name) >= 0 ? " *" : ""), schema: props[name],
        required: required.indexOf(name) >= 0, value: node.params[name], key: "params." + name + ":" + node.id,
        errors: fieldErrors(problems, "params." + name),
        set: (function (params) {
          return function (next) { if (next === undefined) delete params[name]; else params[name] = next; };
        })(node.params),
      }));
    });
    if ((type.credential_types || []).length) form.appendChild(credentialField(node, type));
    if (node.type === "workflow.execute") form.appendChild(calledInputs(node));
    form.appendChild(settingsSection(node, type.settings_schema || {}, problems));
    form.appendChild(h("div", { className: "hint small" }, [
      h("strong", { text: "Expressions: " }),
      h("span", { text: "a text value may use {{ json.field }} (the current item), {{ nodes.<id>.json.field }}, {{ nodes.<id>.items }}, {{ items }}, {{ trigger }}, {{ execution }} and {{ now }}." }),
    ]));
    if (!editable) Array.prototype.forEach.call(form.elements, function (input) { input.disabled = true; });
    panel.appendChild(form);
    panel.appendChild(connectionsSection(node, type));
    if (editable) {
      var remove = button("Delete node", function () {
        window.linkflowConfirm("Delete node '" + node.id + "' and its connections?", function () { deleteNodes([node.id], []); });
      }, "btn-danger");
      panel.appendChild(h("p", {}, [remove]));
    }
  }

  function renderSelectionPanel() {
    var nodeCount = Object.keys(state.sel.nodes).length, noteCount = Object.keys(state.sel.notes).length;
    panel.appendChild(h("h2", { text: "Selection" }));
    panel.appendChild(h("p", { id: "selection-summary", text: nodeCount + " node(s) and " + noteCount + " note(s) selected." }));
    panel.appendChild(h("p", { className: "muted small", text: "Drag one to move them all; Ctrl+C copies them as JSON, Delete removes them." }));
    if (editable) panel.appendChild(button("Delete selection", deleteSelection, "btn-danger"));
  }

  function fieldErrors(problems, path) {
    return problems.filter(function (p) {
      var f = p.field || "";
      return f === path || f.indexOf(path + ".") === 0 || f.indexOf(path + "[") === 0;
    }).map(function (p) { return p.message; });
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
    var input = document.getElementById(id);
    if (input) input.setAttribute("aria-invalid", messages.length ? "true" : "false");
  }

  function textField(id, label, value, apply, key, help, errors) {
    var input = h("input", { type: "text", id: id, value: value });
    input.addEventListener("input", function () { mutate(null, function () { apply(input.value); }, key); });
    return fieldWrap(id, label, input, help, errors);
  }

  function selectField(id, label, value, options, apply, help) {
    var select = h("select", { id: id }, options.map(function (o) {
      return h("option", { value: o[0], text: o[1] });
    }));
    select.value = value;
    select.addEventListener("change", function () { mutate(null, function () { apply(select.value); }); });
    return fieldWrap(id, label, select, help);
  }

  function idField(node) {
    var input = h("input", { type: "text", id: "node-id", value: node.id, pattern: "[A-Za-z0-9_-]+", maxLength: 64 });
    input.addEventListener("change", function () {
      var next = input.value.trim();
      if (next === node.id) return setErrors("node-id", []);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(next)) return setErrors("node-id", ["Use letters, digits, '_' and '-'."]);
      if (nodeById(next)) return setErrors("node-id", ["Another node already has this id."]);
      var old = node.id;
      mutate(null, function () { renameNode(node, next); });
      if (state.problems[old]) { state.problems[next] = state.problems[old]; delete state.problems[old]; }
      state.selected = next;
      state.sel = { nodes: {}, notes: {} };
      state.sel.nodes[next] = true;
      redraw();
      renderPanel();
    });
    return fieldWrap("node-id", "Node id", input, "Other nodes refer to it as nodes." + node.id + ".");
  }

  function renameNode(node, next) {
    graph.edges.forEach(function (edge) {
      if (edge.source === node.id) edge.source = next;
      if (edge.target === node.id) edge.target = next;
    });
    node.id = next;
  }

  // --- generic widgets from a JSON schema ----------------------------------------------

  function isExpression(schema) { return schema && schema.type === "string" && schema.pattern === "\\{\\{"; }

  function baseOf(schema) {
    if (!schema.anyOf) return { base: schema, expr: false };
    var plain = schema.anyOf.filter(function (s) { return !isExpression(s); });
    return { base: plain.length === 1 ? plain[0] : { anyOf: plain }, expr: plain.length < schema.anyOf.length };
  }

  // The widget kind for a schema: enum, boolean, number, string, scalar (a JSON literal or
  // text), map (an object of values: key/value rows), list (an array of objects or of
  // strings: one sub-form per entry), group (an object with named properties) or json.
  function kindOf(schema) {
    var found = baseOf(schema), base = found.base, expr = found.expr;
    if (base.enum) return { kind: "enum", options: base.enum, expr: expr, base: base };
    if (base.type === "boolean") return { kind: expr ? "scalar" : "boolean", base: base };
    if (base.type === "integer" || base.type === "number") return { kind: expr ? "scalar" : "number", base: base };
    if (base.type === "string") return { kind: "string", base: base };
    if (Array.isArray(base.type) && base.type.indexOf("object") < 0 && base.type.indexOf("array") < 0) return { kind: "scalar", base: base };
    if (base.type === "object" && base.properties && Object.keys(base.properties).length) return { kind: "group", base: base, expr: expr };
    if (base.type === "object" && !base.properties) return { kind: "map", base: base, expr: expr };
    if (base.type === "array" && base.items && (base.items.type === "object" && base.items.properties || base.items.type === "string")) {
      return { kind: "list", base: base, expr: expr };
    }
    return { kind: "json", base: base };
  }

  // A value typed into a text box: a number, true/false/null or JSON array/object when it
  // reads as one and the schema accepts more than text; else the text.
  function parsedText(text, stringOnly) {
    if (stringOnly) return text;
    var t = text.trim();
    if (/^(true|false|null|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(t) || /^[[{]/.test(t)) {
      try { return JSON.parse(t); } catch (e) { return text; }
    }
    return text;
  }

  function shownText(value) {
    return value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  }

  // opts: {id, label, schema, value, required, errors, set(next), key}
  function widget(opts) {
    var schema = opts.schema, id = opts.id;
    var kind = kindOf(schema);
    var help = schema.description || "";
    var errors = opts.errors || [];
    var input;
    function apply(next, key) { mutate(null, function () { opts.set(next); }, key || opts.key); }
    if (kind.kind === "boolean") {
      var initial = opts.value === undefined ? !!schema.default : !!opts.value;
      input = h("input", { type: "checkbox", id: id, checked: initial });
      input.addEventListener("change", function () {
        apply(input.checked === !!schema.default && opts.omitDefault ? undefined : input.checked);
      });
      var wrap = fieldWrap(id, opts.label, input, help, errors);
      wrap.classList.add("field-checkbox");
      return wrap;
    }
    if (kind.kind === "enum") {
      var options = [["", opts.required ? "Choose…" : "(default" + (schema.default !== undefined && schema.default !== null ? ": " + schema.default : "") + ")"]];
      kind.options.forEach(function (o) { if (o !== null) options.push([String(o), String(o)]); });
      input = h("select", { id: id }, options.map(function (o) { return h("option", { value: o[0], text: o[1] }); }));
      input.value = opts.value === undefined || opts.value === null ? "" : String(opts.value);
      input.addEventListener("change", function () {
        var chosen = kind.options.filter(function (o) { return String(o) === input.value; })[0];
        apply(input.value === "" ? undefined : chosen);
      });
      return fieldWrap(id, opts.label, input, help, errors);
    }
    if (kind.kind === "group") return groupWidget(opts, kind);
    if (kind.kind === "map") return mapWidget(opts, kind);
    if (kind.kind === "list") return listWidget(opts, kind);
    if (kind.kind === "json") return jsonWidget(opts, help);
    var name = id.split("-").pop();
    var isLong = name === "code" || name === "html" || name === "text" || (kind.base.maxLength || 0) > 1000;
    var shown = shownText(opts.value);
    input = isLong ? h("textarea", { id: id, rows: 6, spellcheck: name === "notes" || name === "text", value: shown })
      : h("input", { type: kind.kind === "number" ? "number" : "text", id: id, value: shown, step: "any" });
    if (schema.default !== undefined && schema.default !== null && !isLong) input.placeholder = String(schema.default);
    input.addEventListener("input", function () {
      var text = input.value;
      if (text === "") return apply(undefined);
      if (kind.kind === "number") return apply(Number(text));
      if (kind.kind === "scalar") return apply(parsedText(text, false));
      apply(text);
    });
    return fieldWrap(id, opts.label, input, help, errors);
  }

  // Raw JSON; with `opts.expression`, text holding {{ … }} that is not JSON is kept as
  // the expression string it is (shown without JSON quotes).
  function jsonWidget(opts, help) {
    var id = opts.id;
    var asExpression = function (v) { return opts.expression && typeof v === "string" && v.indexOf("{{") >= 0; };
    var shown = opts.value === undefined ? "" : asExpression(opts.value) ? opts.value : JSON.stringify(opts.value, null, 2);
    var input = h("textarea", { id: id, rows: 4, spellcheck: false, value: shown });
    input.addEventListener("input", function () {
      var text = input.value.trim();
      if (!text) {
        delete state.invalidFields[id]; setErrors(id, []);
        return mutate(null, function () { opts.set(undefined); }, opts.key);
      }
      try {
        if (asExpression(text) && !/^[[{"]/.test(text)) throw { expression: true };
        var parsed = JSON.parse(text);
        delete state.invalidFields[id];
        setErrors(id, []);
        mutate(null, function () { opts.set(parsed); }, opts.key);
      } catch (e) {
        if (e && e.expression || asExpression(text) && !/^[[{]/.test(text)) {
          delete state.invalidFields[id];
          setErrors(id, []);
          return mutate(null, function () { opts.set(text); }, opts.key);
        }
        state.invalidFields[id] = true;
        setErrors(id, ["Not valid JSON yet: " + e.message]);
      }
    });
    return fieldWrap(id, opts.label, input, (help ? help + " " : "") + "JSON.", opts.errors);
  }

  // An object with named properties (retry: attempts and back-off): a fieldset of
  // widgets; the object is dropped when every property is empty.
  function groupWidget(opts, kind) {
    var props = kind.base.properties, required = kind.base.required || [];
    var box = h("fieldset", { className: "field-group", id: opts.id }, [h("legend", { text: opts.label })]);
    if (opts.schema.description) box.appendChild(h("p", { className: "help", text: opts.schema.description }));
    var current = function () {
      return opts.value && typeof opts.value === "object" && !Array.isArray(opts.value) ? opts.value : {};
    };
    Object.keys(props).forEach(function (name) {
      box.appendChild(widget({
        id: opts.id + "-" + name, label: props[name].title || name, schema: props[name],
        required: required.indexOf(name) >= 0, value: current()[name], key: opts.key + "." + name,
        errors: [],
        set: function (next) {
          var value = Object.assign({}, current());
          if (next === undefined) delete value[name]; else value[name] = next;
          opts.value = Object.keys(value).length ? value : undefined;
          opts.set(opts.value);
        },
      }));
    });
    var list = h("ul", { className: "errorlist", id: opts.id + "-errors" });
    (opts.errors || []).forEach(function (m) { list.appendChild(h("li", { text: m })); });
    box.appendChild(list);
    return box;
  }

  // Rows of key and value for an object of values (fields, headers, query), with a
  // switch to edit the same object as raw JSON (for an expression, or nested values).
  function mapWidget(opts, kind) {
    var id = opts.id;
    var valueSchema = kind.base.additionalProperties;
    var stringOnly = !!(valueSchema && valueSchema.type === "string");
    var box = h("fieldset", { className: "field-group kv", id: id }, [h("legend", { text: opts.label })]);
    var body = h("div", { className: "kv-body" });
    var rawMode = opts.value !== undefined && (typeof opts.value !== "object" || Array.isArray(opts.value) || opts.value === null ||
      Object.keys(opts.value).some(function (k) { var v = opts.value[k]; return v !== null && typeof v === "object" && !Array.isArray(v); }));
    var rows = [];
    function fromValue() {
      rows = opts.value && typeof opts.value === "object" && !Array.isArray(opts.value)
        ? Object.keys(opts.value).map(function (k) { return [k, shownText(opts.value[k])]; }) : [];
    }
    function push() {
      var value = {};
      rows.forEach(function (row) { if (row[0] !== "") value[row[0]] = parsedText(row[1], stringOnly); });
      opts.value = rows.some(function (r) { return r[0] !== ""; }) ? value : undefined;
      mutate(null, function () { opts.set(opts.value); }, opts.key);
    }
    function draw() {
      body.textContent = "";
      if (rawMode) {
        body.appendChild(jsonWidget({
          id: id + "-json", label: opts.label + " as JSON", value: opts.value, key: opts.key, errors: [], expression: kind.expr,
          set: function (next) { opts.value = next; opts.set(next); },
        }, kind.expr ? "An object, or an expression such as {{ json.headers }} that gives one." : "An object."));
      } else {
        if (!rows.length) body.appendChild(h("p", { className: "muted small kv-empty", text: "None yet." }));
        rows.forEach(function (row, index) {
          var n = index + 1;
          var keyInput = h("input", { type: "text", id: id + "-key-" + n, value: row[0], placeholder: "name" });
          keyInput.setAttribute("aria-label", opts.label + " name " + n);
          var valueInput = h("input", { type: "text", id: id + "-value-" + n, value: row[1], placeholder: "value" });
          valueInput.setAttribute("aria-label", opts.label + " value " + n);
          keyInput.addEventListener("input", function () { row[0] = keyInput.value; push(); });
          valueInput.addEventListener("input", function () { row[1] = valueInput.value; push(); });
          var remove = button("×", function () {
            rows.splice(index, 1); history.lastKey = null; push(); draw();
          }, "kv-remove", "Remove " + opts.label + " row " + n);
          body.appendChild(h("div", { className: "kv-row" }, [keyInput, valueInput, remove]));
        });
        body.appendChild(button("Add " + opts.label.replace(/ \*$/, "") + " row", function () {
          rows.push(["", ""]); draw();
          var last = body.querySelectorAll(".kv-row input");
          if (last.length) last[last.length - 2].focus();
        }, "kv-add"));
      }
    }
    var toggle = h("input", { type: "checkbox", id: id + "-raw", checked: rawMode });
    toggle.addEventListener("change", function () {
      rawMode = toggle.checked;
      if (!rawMode) {
        if (opts.value !== undefined && (typeof opts.value !== "object" || Array.isArray(opts.value) || opts.value === null)) {
          rawMode = true; toggle.checked = true;
          return setErrors(id, ["This value is not an object of values: keep editing it as JSON."]);
        }
        fromValue();
      }
      setErrors(id, []);
      draw();
    });
    if (opts.schema.description) box.appendChild(h("p", { className: "help", text: opts.schema.description }));
    box.appendChild(h("div", { className: "kv-mode" }, [toggle, h("label", { htmlFor: id + "-raw", text: "Edit as JSON" })]));
    box.appendChild(body);
    var list = h("ul", { className: "errorlist", id: id + "-errors" });
    (opts.errors || []).forEach(function (m) { list.appendChild(h("li", { text: m })); });
    box.appendChild(list);
    fromValue();
    draw();
    return box;
  }

  // An array: one sub-form per entry (rules of flow.switch) or one text box per string,
  // with add, remove and move up.
  function listWidget(opts, kind) {
    var id = opts.id, itemSchema = kind.base.items;
    var noun = opts.label.replace(/ \*$/, "").replace(/s$/, "");
    var box = h("fieldset", { className: "field-group list-widget", id: id }, [h("legend", { text: opts.label })]);
    if (opts.schema.description) box.appendChild(h("p", { className: "help", text: opts.schema.description }));
    var body = h("div", {});
    box.appendChild(body);
    if (opts.value !== undefined && !Array.isArray(opts.value)) {
      body.appendChild(jsonWidget(opts, "Not a list: edit it as JSON."));
      return box;
    }
    var items = (opts.value || []).slice();
    function push(key) {
      opts.value = items.length ? items.slice() : undefined;
      mutate(null, function () { opts.set(opts.value); }, key);
    }
    function draw() {
      body.textContent = "";
      items.forEach(function (item, index) {
        var n = index + 1;
        var entry = h("div", { className: "list-entry", "data-index": index }, [h("p", { className: "list-entry-title", text: noun + " " + n })]);
        if (itemSchema.type === "string") {
          var input = h("input", { type: "text", id: id + "-" + n, value: item === undefined ? "" : String(item) });
          input.setAttribute("aria-label", noun + " " + n);
          input.addEventListener("input", function () { items[index] = input.value; push(opts.key + "." + index); });
          entry.appendChild(input);
        } else {
          var props = itemSchema.properties, required = itemSchema.required || [];
          Object.keys(props).forEach(function (name) {
            entry.appendChild(widget({
              id: id + "-" + n + "-" + name, label: noun + " " + n + " " + name + (required.indexOf(name) >= 0 ? " *" : ""),
              schema: props[name], required: required.indexOf(name) >= 0,
              value: item && item[name], key: opts.key + "." + index + "." + name,
              errors: fieldErrors(opts.problems || [], opts.path + "[" + index + "]"),
              set: function (next) {
                var copy = Object.assign({}, items[index]);
                if (next === undefined) delete copy[name]; else copy[name] = next;
                items[index] = copy;
                opts.value = items.slice();
                opts.set(opts.value);
              },
            }));
          });
        }
        var actions = h("div", { className: "list-actions" }, [
          index > 0 ? button("Move up", function () {
            var moved = items.splice(index, 1)[0]; items.splice(index - 1, 0, moved);
            history.lastKey = null; push(); draw();
          }, "", "Move " + noun + " " + n + " up") : null,
          button("Remove", function () { items.splice(index, 1); history.lastKey = null; push(); draw(); }, "", "Remove " + noun + " " + n),
        ]);
        entry.appendChild(actions);
        body.appendChild(entry);
      });
      body.appendChild(button("Add " + noun, function () {
        items.push(itemSchema.type === "string" ? "" : {});
        history.lastKey = null;
        push();
        draw();
      }, "list-add"));
    }
    draw();
    var list = h("ul", { className: "errorlist", id: id + "-errors" });
    (opts.errors || []).forEach(function (m) { list.appendChild(h("li", { text: m })); });
    box.appendChild(list);
    return box;
  }

  // The settings every node has (retry, timeout, on error, disabled, notes), from the
  // registry's settings schema; a value equal to the engine's default is left out.
  function settingsSection(node, schema) {
    var section = h("div", { className: "node-settings" }, [h("h3", { text: "Settings" })]);
    var props = schema.properties || {};
    var problems = state.problems[node.id] || [];
    Object.keys(props).forEach(function (name) {
      section.appendChild(widget({
        id: "setting-" + name, label: props[name].title || name, schema: props[name], value: node[name],
        key: name + ":" + node.id, errors: fieldErrors(problems, name), omitDefault: true,
        set: function (next) {
          if (next === undefined || next === props[name].default) delete node[name]; else node[name] = next;
        },
      }));
    });
    return section;
  }

  // What the called workflow declares on its manual trigger (its `inputs`), read from the
  // workflows API, so the author can map `fields` to them; saving checks the mapping.
  function calledInputs(node) {
    var box = h("p", { className: "hint small", id: "called-inputs" });
    var id = (node.params || {}).workflow;
    if (typeof id !== "string" || !/^[0-9a-f-]{36}$/i.test(id)) {
      box.textContent = "Pick a workflow by id to see the inputs it expects.";
      return box;
    }
    box.textContent = "Loading the inputs it expects…";
    fetch("/api/v1/workflows/" + id + "/", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (workflow) {
        if (!workflow) { box.textContent = "No workflow with this id in this workspace."; return; }
        var inputs = workflow.inputs;
        if (!inputs || !inputs.length) { box.textContent = "'" + workflow.name + "' declares no inputs: it takes the items as they are."; return; }
        box.textContent = "'" + workflow.name + "' expects: " + inputs.map(function (entry) {
          return entry.name + " (" + (entry.type || "any") + (entry.required ? ", required" : "") + ")";
        }).join(", ") + ". Map them in fields.";
      })
      .catch(function () { box.textContent = "Could not load the inputs it expects."; });
    return box;
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

  function connectionsSection(node) {
    var section = h("section", { className: "connections" }, [h("h3", { text: "Connections" })]);
    var list = h("ul", { className: "connection-list" });
    graph.edges.forEach(function (edge, index) {
      if (edge.source !== node.id && edge.target !== node.id) return;
      var text = edge.source + " (" + (edge.output || "main") + ") → " + edge.target;
      var item = h("li", {}, [h("span", { text: text })]);
      if (editable) item.appendChild(button("Remove", function () { removeEdge(index); }, "", "Remove connection " + text));
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
    mutate("Connected " + source + " → " + target + " (unsaved)", function () {
      var edge = { source: source, target: target };
      if (port && port !== "main") edge.output = port;
      graph.edges.push(edge);
    });
    renderPanel();
  }

  function removeEdge(index) {
    if (!editable) return;
    var edge = graph.edges[index];
    mutate("Removed connection " + edge.source + " → " + edge.target + " (unsaved)", function () {
      graph.edges.splice(index, 1);
      state.selectedEdge = null;
    });
    renderPanel();
  }

  function renderEdgePanel() {
    var edge = graph.edges[state.selectedEdge];
    var index = state.selectedEdge;
    panel.appendChild(h("h2", { text: "Connection" }));
    panel.appendChild(h("p", { text: edge.source + " (" + (edge.output || "main") + ") → " + edge.target }));
    if (editable) panel.appendChild(button("Remove connection", function () { removeEdge(index); }, "btn-danger"));
  }

  // --- sticky notes -------------------------------------------------------------------

  function newNoteId() {
    var id;
    do { id = "note_" + Math.random().toString(36).slice(2, 10); } while (noteById(id));
    return id;
  }

  function addNote() {
    var view = canvas.view();
    var note = {
      id: newNoteId(), x: Math.round((24 - view.x) / view.k), y: Math.round((24 - view.y) / view.k),
      width: 240, height: 150, color: "yellow", text: "## Note\nWrite **Markdown** here.",
    };
    mutate("Added a note.", function () { notes.push(note); });
    saveLayout("Note saved.");
    selectNote(note.id, {});
    var text = document.getElementById("note-text");
    if (text) { text.focus(); text.select(); }
  }

  function renderNotePanel(note) {
    panel.appendChild(h("h2", { text: "Sticky note" }));
    panel.appendChild(h("p", { className: "muted small", text: "Kept with the canvas layout, not in the graph: it makes no version and runs never see it. Drag its corner to resize it." }));
    var text = h("textarea", { id: "note-text", rows: 8, value: note.text, maxLength: 10000, disabled: !editable });
    text.addEventListener("input", function () {
      mutate(null, function () { note.text = text.value; }, "note-text:" + note.id);
      saveLayout("Note saved.");
    });
    panel.appendChild(fieldWrap("note-text", "Text (Markdown)", text, "# heading, **bold**, *italic*, `code`, - lists, [links](https://…); HTML shows as text."));
    var color = h("select", { id: "note-color", disabled: !editable }, noteColors.map(function (c) { return h("option", { value: c, text: c }); }));
    color.value = note.color;
    color.addEventListener("change", function () {
      mutate(null, function () { note.color = color.value; });
      saveLayout("Note saved.");
    });
    panel.appendChild(fieldWrap("note-color", "Colour", color));
    if (editable) panel.appendChild(button("Delete note", function () { deleteNodes([], [note.id]); }, "btn-danger"));
  }

  function noteGeometryChanged(id, before) {
    var note = noteById(id);
    var data = JSON.parse(snapshot());
    data.notes.forEach(function (n) { if (n.id === id) Object.assign(n, before); });
    pushUndo(JSON.stringify(data));
    history.lastKey = null;
    redraw();
    saveLayout("Note saved.");
    if (note && state.selectedNote !== id) selectNote(id, {});
  }

  // --- adding, deleting and moving nodes ----------------------------------------------

  function freeSpot(anchor) {
    var spot = anchor && anchor.position ? { x: anchor.position.x + 270, y: anchor.position.y } : { x: 40, y: 40 };
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

  function freeId(base) {
    var n = 1;
    while (nodeById(base + "_" + n)) n++;
    return base + "_" + n;
  }

  // A node added while one node is selected goes right of it, connected from its first
  // output (a trigger, which takes no input, is only placed).
  function addNode(typeName) {
    var type = types[typeName];
    var anchor = state.selected && nodeById(state.selected);
    var node = { id: freeId(typeName.split(".")[1].replace(/[^A-Za-z0-9_-]/g, "")), type: typeName, version: type.version, name: type.label, params: {}, position: freeSpot(anchor) };
    mutate("Added " + type.label + (anchor && !type.is_trigger ? " after " + anchor.id : "") + " (unsaved)", function () {
      graph.nodes.push(node);
      if (anchor && !type.is_trigger) {
        var port = canvas.outputsOf(anchor)[0] || "main";
        var edge = { source: anchor.id, target: node.id };
        if (port !== "main") edge.output = port;
        graph.edges.push(edge);
      }
    });
    state.selected = node.id;
    state.sel = { nodes: {}, notes: {} };
    state.sel.nodes[node.id] = true;
    state.selectedEdge = null;
    state.selectedNote = null;
    redraw();
    renderPanel();
    var first = panel.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function deleteNodes(nodeIds, noteIds) {
    if (!nodeIds.length && !noteIds.length) return;
    var gone = {};
    nodeIds.forEach(function (id) { gone[id] = true; delete state.problems[id]; });
    var goneNotes = {};
    noteIds.forEach(function (id) { goneNotes[id] = true; });
    mutate("Deleted " + (nodeIds.length + noteIds.length === 1 ? (nodeIds[0] || "a note") : nodeIds.length + " node(s) and " + noteIds.length + " note(s)") + (nodeIds.length ? " (unsaved)" : ""), function () {
      graph.nodes = graph.nodes.filter(function (n) { return !gone[n.id]; });
      graph.edges = graph.edges.filter(function (e) { return !gone[e.source] && !gone[e.target]; });
      notes = notes.filter(function (n) { return !goneNotes[n.id]; });
    });
    if (noteIds.length) saveLayout();
    state.selected = null;
    state.selectedNote = null;
    state.sel = { nodes: {}, notes: {} };
    redraw();
    renderPanel();
  }

  function deleteSelection() {
    if (state.selectedEdge !== null && graph.edges[state.selectedEdge]) return removeEdge(state.selectedEdge);
    deleteNodes(Object.keys(state.sel.nodes), Object.keys(state.sel.notes));
  }

  function moved(id, origins) {
    var data = JSON.parse(snapshot());
    data.graph.nodes.forEach(function (n) { if (origins[n.id]) n.position = origins[n.id]; });
    pushUndo(JSON.stringify(data));
    history.lastKey = null;
    redraw();
    saveLayout("Position saved.");
  }

  // --- the layout (places and notes) is saved at once, beside the versions -------------

  var layoutSave = { busy: false, again: false, message: null };

  function saveLayout(message) {
    if (!editable) return;
    layoutSave.message = message || layoutSave.message;
    root.dataset.layoutState = "saving";
    if (layoutSave.busy) { layoutSave.again = true; return; }
    layoutSave.busy = true;
    var positions = {};
    graph.nodes.forEach(function (n) { if (n.position) positions[n.id] = n.position; });
    fetch(root.dataset.layoutUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.linkflowCsrfToken() },
      body: JSON.stringify({ positions: positions, notes: notes }),
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return "saved";
    }).catch(function () { return "error"; }).then(function (outcome) {
      layoutSave.busy = false;
      if (layoutSave.again) { layoutSave.again = false; return saveLayout(); }
      root.dataset.layoutState = outcome;
      var what = layoutSave.message || "Layout saved.";
      layoutSave.message = null;
      if (outcome === "error") say("Could not save the layout: try again.");
      else say(isDirty() ? what.replace(/\.$/, "") + "; other changes are not saved yet." : what);
    });
  }

  // --- copy and paste of the selection as JSON -----------------------------------------

  function typing(target) {
    var t = target || document.activeElement;
    return !!t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function selectionJson() {
    var ids = state.sel.nodes;
    var picked = graph.nodes.filter(function (n) { return ids[n.id]; });
    var pickedNotes = notes.filter(function (n) { return state.sel.notes[n.id]; });
    if (!picked.length && !pickedNotes.length) return null;
    return JSON.stringify({
      linkflow: "selection", version: 1,
      nodes: picked,
      edges: graph.edges.filter(function (e) { return ids[e.source] && ids[e.target]; }),
      notes: pickedNotes,
    }, null, 2);
  }

  function pasteJson(text) {
    var data;
    try { data = JSON.parse(text); } catch (e) { return false; }
    if (!data || typeof data !== "object" || !Array.isArray(data.nodes)) return false;
    var incoming = data.nodes.filter(function (n) { return n && typeof n === "object" && typeof n.id === "string" && typeof n.type === "string"; });
    var incomingNotes = (Array.isArray(data.notes) ? data.notes : []).filter(function (n) {
      return n && typeof n === "object" && typeof n.text === "string" && noteColors.indexOf(n.color) >= 0;
    });
    if (!incoming.length && !incomingNotes.length) return false;
    var renamed = {}, collided = false, droppedCredential = false;
    var known = {};
    credentials.forEach(function (c) { known[c.id] = true; });
    var added = incoming.map(function (raw) {
      var node = JSON.parse(JSON.stringify(raw));
      var id = /^[A-Za-z0-9_-]{1,64}$/.test(node.id) ? node.id : "node";
      if (nodeById(id) || Object.keys(renamed).some(function (k) { return renamed[k] === id; })) {
        collided = true;
        var base = id.replace(/_\d+$/, "").slice(0, 56), n = 1;
        while (nodeById(base + "_" + n) || Object.keys(renamed).some(function (k) { return renamed[k] === base + "_" + n; })) n++;
        id = base + "_" + n;
      }
      renamed[raw.id] = id;
      node.id = id;
      if (node.credential && !known[node.credential]) { delete node.credential; droppedCredential = true; }
      return node;
    });
    var offset = collided ? 40 : 0;
    added.forEach(function (n) {
      var p = n.position && typeof n.position.x === "number" && typeof n.position.y === "number" ? n.position : freeSpot(null);
      n.position = { x: Math.max(0, p.x + offset), y: Math.max(0, p.y + offset) };
    });
    var edges = (Array.isArray(data.edges) ? data.edges : []).filter(function (e) {
      return e && renamed[e.source] !== undefined && renamed[e.target] !== undefined;
    }).map(function (e) {
      var edge = { source: renamed[e.source], target: renamed[e.target] };
      if (e.output && e.output !== "main") edge.output = String(e.output);
      return edge;
    });
    var pastedNotes = incomingNotes.map(function (n) {
      return {
        id: newNoteId(), x: Number(n.x) + 40 || 40, y: Number(n.y) + 40 || 40,
        width: Math.max(80, Number(n.width) || 240), height: Math.max(60, Number(n.height) || 150),
        color: n.color, text: n.text.slice(0, 10000),
      };
    });
    mutate("Pasted " + added.length + " node(s)" + (pastedNotes.length ? " and " + pastedNotes.length + " note(s)" : "") +
      (droppedCredential ? "; credentials from elsewhere were left out" : "") + " (unsaved)", function () {
      added.forEach(function (n) { graph.nodes.push(n); });
      edges.forEach(function (e) { graph.edges.push(e); });
      pastedNotes.forEach(function (n) { notes.push(n); });
    });
    if (pastedNotes.length) saveLayout();
    state.sel = { nodes: {}, notes: {} };
    added.forEach(function (n) { state.sel.nodes[n.id] = true; });
    pastedNotes.forEach(function (n) { state.sel.notes[n.id] = true; });
    state.selected = added.length === 1 && !pastedNotes.length ? added[0].id : null;
    state.selectedNote = null;
    state.selectedEdge = null;
    redraw();
    renderPanel();
    return true;
  }

  // --- the items that crossed each edge in the latest execution ------------------------

  function loadRunCounts() {
    if (!root.dataset.runsUrl) return;
    fetch(root.dataset.runsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (page) {
        var latest = page && page.results && page.results[0];
        if (!latest) return null;
        return fetch(root.dataset.executionUrl.replace("EXECUTION", latest.id), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; });
      })
      .then(function (execution) {
        if (!execution) return;
        var counts = {}, attempt = {};
        (execution.node_runs || []).forEach(function (run) {
          if (run.status !== "succeeded" || !run.output || typeof run.output !== "object") return;
          if (attempt[run.node_id] && attempt[run.node_id] > run.attempt) return;
          attempt[run.node_id] = run.attempt;
          Object.keys(run.output).forEach(function (port) {
            if (Array.isArray(run.output[port])) counts[run.node_id + "\u0000" + port] = run.output[port].length;
          });
        });
        state.runCounts = counts;
        root.dataset.runCounts = execution.id;
        var note = document.getElementById("run-counts-note");
        if (note) {
          note.hidden = false;
          note.textContent = "Edge counts: items of the latest run (" + execution.status + ", version " + execution.version + ").";
        }
        redraw();
      })
      .catch(function () { /* the counts are a hint; the canvas works without them */ });
  }

  // --- saving -------------------------------------------------------------------------

  function save(doneText) {
    if (Object.keys(state.invalidFields).length) {
      say("Fix the fields marked invalid first.");
      return Promise.resolve();
    }
    say("Saving…");
    var sent = JSON.parse(JSON.stringify(graph));
    return fetch(root.dataset.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.linkflowCsrfToken() },
      body: JSON.stringify({ graph: sent }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) { saved(response, body, doneText, sent); });
    }).catch(function () { say("Could not reach the server: nothing was lost, try again."); });
  }

  function saved(response, body, doneText, sent) {
    state.problems = {};
    banner.hidden = true;
    banner.textContent = "";
    if (response.ok) {
      savedKey = graphKey(sent);
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

  document.getElementById("zoom-in").addEventListener("click", function () { canvas.zoomBy(1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { canvas.zoomBy(0.8); });
  document.getElementById("zoom-fit").addEventListener("click", function () { canvas.fit(); });
  document.getElementById("zoom-reset").addEventListener("click", function () { canvas.resetView(); });

  if (editable) {
    document.getElementById("save-button").addEventListener("click", function () { save(); });
    document.getElementById("undo-button").addEventListener("click", undo);
    document.getElementById("redo-button").addEventListener("click", redo);
    document.getElementById("add-note").addEventListener("click", addNote);
    document.querySelectorAll("[data-add-type]").forEach(function (b) {
      b.addEventListener("click", function () { addNode(b.dataset.addType); });
    });
    var filter = document.getElementById("palette-filter");
    filter.addEventListener("input", function () {
      var q = filter.value.toLowerCase();
      document.querySelectorAll("[data-add-type]").forEach(function (b) {
        b.parentNode.hidden = q && b.textContent.toLowerCase().indexOf(q) < 0 && b.dataset.addType.indexOf(q) < 0;
      });
    });
    window.addEventListener("beforeunload", function (event) {
      if (isDirty()) { event.preventDefault(); event.returnValue = ""; }
    });
    document.addEventListener("keydown", function (event) {
      var mod = event.ctrlKey || event.metaKey, key = event.key.toLowerCase();
      if (mod && key === "s") { event.preventDefault(); return save(); }
      if (typing(event.target)) return; // a text box keeps its own undo and Delete
      if (mod && key === "z" && !event.shiftKey) { event.preventDefault(); return undo(); }
      if (mod && ((key === "z" && event.shiftKey) || key === "y")) { event.preventDefault(); return redo(); }
      if (mod && key === "a" && event.target.closest && event.target.closest(".editor-body")) {
        event.preventDefault();
        return boxSelect(graph.nodes.map(function (n) { return n.id; }), notes.map(function (n) { return n.id; }));
      }
      if ((event.key === "Delete" || event.key === "Backspace") && (selectionSize() || state.selectedEdge !== null)) {
        event.preventDefault();
        deleteSelection();
      }
    });
    document.addEventListener("copy", function (event) {
      if (typing(event.target)) return;
      var text = selectionJson();
      if (!text) return;
      event.preventDefault();
      event.clipboardData.setData("text/plain", text);
      say("Copied " + selectionSize() + " item(s) as JSON.");
    });
    document.addEventListener("cut", function (event) {
      if (typing(event.target)) return;
      var text = selectionJson();
      if (!text) return;
      event.preventDefault();
      event.clipboardData.setData("text/plain", text);
      deleteSelection();
    });
    document.addEventListener("paste", function (event) {
      if (typing(event.target)) return;
      var text = event.clipboardData && event.clipboardData.getData("text/plain");
      if (!text) return;
      event.preventDefault();
      if (!pasteJson(text)) say("The clipboard holds no LinkFlow nodes to paste.");
    });
  } else {
    document.addEventListener("copy", function (event) {
      if (typing(event.target)) return;
      var text = selectionJson();
      if (!text) return;
      event.preventDefault();
      event.clipboardData.setData("text/plain", text);
      say("Copied " + selectionSize() + " item(s) as JSON.");
    });
  }
  // The graph on the canvas, saved or not: the build-test loop (test-loop.js) tests what
  // is being edited, as n8n does, without saving a version first.
  window.linkflowEditorGraph = function () { return JSON.parse(JSON.stringify(graph)); };
  redraw();
  renderPanel();
  loadRunCounts();
  window.addEventListener("pageshow", function (event) { if (event.persisted) loadRunCounts(); });
})();
