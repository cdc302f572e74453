// Draws a workflow graph on an SVG canvas; shared by the editor and the run view.
// LinkflowGraph.create(svg, {catalog, editable, viewport, onSelect, onMove, onConnect,
// onEdgeSelect, onEdgeDelete, onBoxSelect, onNoteSelect, onNoteChange}) returns
// {render(graph, marks), outputsOf(node), zoomBy(f), fit(), resetView(), view()}.
// Geometry matches workflows/editor.py.
//
// Without `viewport` (the run view) the SVG takes the size of the graph. With it (the
// editor) the SVG fills its box and the drawing sits in a pan-and-zoom group: a drag on
// the background pans, shift-drag draws a selection box, the wheel scrolls and
// ctrl+wheel zooms around the pointer.
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var XHTML = "http://www.w3.org/1999/xhtml";
  var W = 180, H = 64, PAD = 40;
  var MIN_ZOOM = 0.2, MAX_ZOOM = 2.5;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function cut(text, max) {
    text = String(text || "");
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function nodeHeight(outputs) {
    return Math.max(H, outputs.length * 16 + 16);
  }

  function create(svg, options) {
    var catalog = {};
    (options.catalog || []).forEach(function (t) { catalog[t.type] = t; });
    var graph = { nodes: [], edges: [] };
    var marks = {};
    var drag = null;
    var view = { x: 0, y: 0, k: 1 };
    var stage = null; // the pan-and-zoom group (viewport mode)

    // Ports can depend on the params (flow.switch: one per rule) and on the node's version;
    // a stored node without a version is version 1.
    function typePorts(type, node) {
      var rule = type.outputs_from;
      if (!rule) return type.outputs.slice();
      if ((node.version || 1) < rule.since_version) return rule.before.slice();
      var params = node.params || {};
      var entries = Array.isArray(params[rule.list]) ? params[rule.list] : [];
      var ports = entries.map(function (entry, i) {
        var label = entry && typeof entry === "object" ? entry[rule.label] : null;
        return typeof label === "string" && label ? label : String(i);
      });
      if (rule.extra && params[rule.extra.param] === rule.extra.equals) ports.push(rule.extra.port);
      return ports;
    }

    function outputsOf(node) {
      var type = catalog[node.type];
      var ports = type ? typePorts(type, node) : ["main"];
      if (node.on_error === "error_output" && ports.indexOf("error") < 0) ports.push("error");
      return ports;
    }

    function pos(node) {
      var p = node.position || { x: PAD, y: PAD };
      return { x: p.x, y: p.y };
    }

    function portPoint(node, port) {
      var ports = outputsOf(node);
      var h = nodeHeight(ports);
      var index = Math.max(0, ports.indexOf(port));
      var p = pos(node);
      return { x: p.x + W, y: p.y + (h * (index + 1)) / (ports.length + 1) };
    }

    function inPoint(node) {
      var p = pos(node);
      return { x: p.x, y: p.y + nodeHeight(outputsOf(node)) / 2 };
    }

    function curve(a, b) {
      var dx = Math.max(40, Math.abs(b.x - a.x) / 2);
      return "M" + a.x + "," + a.y + " C" + (a.x + dx) + "," + a.y + " " + (b.x - dx) + "," + b.y + " " + b.x + "," + b.y;
    }

    // A pointer position in drawing coordinates (under the current pan and zoom).
    function toCanvas(event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      var matrix = (stage || svg).getScreenCTM();
      return point.matrixTransform(matrix.inverse());
    }

    function byId(id) {
      for (var i = 0; i < graph.nodes.length; i++) if (graph.nodes[i].id === id) return graph.nodes[i];
      return null;
    }

    function isSelected(id) {
      return marks.selected === id || !!(marks.selection && marks.selection[id]);
    }

    function drawEdges(layer) {
      layer.textContent = "";
      graph.edges.forEach(function (edge, index) {
        var source = byId(edge.source), target = byId(edge.target);
        if (!source || !target) return;
        var port = edge.output || "main";
        var a = portPoint(source, port), b = inPoint(target);
        var selected = marks.selectedEdge === index;
        var g = el("g", {
          "class": "edge" + (selected ? " selected" : ""), "data-edge": index,
          "data-source": edge.source, "data-target": edge.target, "data-port": port,
        }, layer);
        el("path", { "class": "edge-path", d: curve(a, b), "marker-end": "url(#lf-arrow)" }, g);
        if (options.editable) {
          var hit = el("path", { "class": "edge-hit", d: curve(a, b), tabindex: "0", role: "button",
            "aria-label": "Connection " + edge.source + " (" + port + ") to " + edge.target }, g);
          hit.addEventListener("click", function () { options.onEdgeSelect(index); });
          hit.addEventListener("keydown", function (event) {
            if (event.key === "Enter" || event.key === " ") { event.preventDefault(); options.onEdgeSelect(index); }
            if (event.key === "Delete" || event.key === "Backspace") {
              event.preventDefault(); event.stopPropagation(); options.onEdgeDelete(index);
            }
          });
        }
        var label = el("text", { "class": "edge-label" + (port === "main" ? " edge-label-main" : ""),
          x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 6, "text-anchor": "middle" }, g);
        label.textContent = port;
        var counts = marks.edgeCounts || {};
        if (counts[index] !== undefined) {
          var n = counts[index];
          el("text", { "class": "edge-count", x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 + 14, "text-anchor": "middle" }, g)
            .textContent = n + (n === 1 ? " item" : " items");
        }
      });
    }

    function drawNode(layer, node) {
      var p = pos(node);
      var ports = outputsOf(node);
      var h = nodeHeight(ports);
      var type = catalog[node.type];
      var status = (marks.status || {})[node.id];
      var classes = ["node", "family-" + String(node.type || "").split(".")[0]];
      if (status) classes.push("status-" + status);
      if ((marks.invalid || {})[node.id]) classes.push("invalid");
      if (isSelected(node.id)) classes.push("selected");
      if (node.disabled) classes.push("disabled");
      var title = node.name || (type ? type.label : node.type);
      var g = el("g", {
        "class": classes.join(" "), "data-node-id": node.id, "data-status": status || "",
        transform: "translate(" + p.x + "," + p.y + ")", tabindex: "0", role: "button",
        "aria-label": title + " (" + node.id + ", " + node.type + ")" + (status ? ", " + status : ""),
      }, layer);
      el("rect", { "class": "node-box", width: W, height: h, rx: 8 }, g);
      el("rect", { "class": "node-stripe", width: 6, height: h, rx: 3 }, g);
      el("text", { "class": "node-title", x: 16, y: 26 }, g).textContent = cut(title, 20);
      el("text", { "class": "node-type", x: 16, y: 46 }, g).textContent = cut(node.id + " · " + node.type, 26);
      if (status) el("text", { "class": "node-badge", x: W, y: h + 14, "text-anchor": "end" }, g).textContent = status;
      if (node.disabled) el("text", { "class": "node-badge", x: 16, y: h + 14 }, g).textContent = "disabled";
      if (!(type && type.is_trigger)) el("circle", { "class": "port port-in", cx: 0, cy: h / 2, r: 6 }, g);
      ports.forEach(function (port, index) {
        var y = (h * (index + 1)) / (ports.length + 1);
        var circle = el("circle", { "class": "port port-out", cx: W, cy: y, r: 7, "data-port": port }, g);
        if (ports.length > 1 || port !== "main") {
          el("text", { "class": "port-label", x: W - 12, y: y + 4, "text-anchor": "end" }, g).textContent = port;
        }
        if (options.editable) circle.addEventListener("pointerdown", function (event) { startConnect(event, node, port); });
      });
      g.addEventListener("pointerdown", function (event) { startDrag(event, node, g); });
      g.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); options.onSelect(node.id, {}); }
      });
    }

    // --- sticky notes (editor only): HTML inside a foreignObject, built with the DOM --

    function drawNote(layer, note) {
      var selected = !!(marks.selectedNotes && marks.selectedNotes[note.id]);
      var g = el("g", {
        "class": "sticky sticky-" + note.color + (selected ? " selected" : ""), "data-note-id": note.id,
        transform: "translate(" + note.x + "," + note.y + ")", tabindex: "0", role: "button",
        "aria-label": "Sticky note " + cut(note.text.split("\n")[0], 40),
      }, layer);
      el("rect", { "class": "sticky-box", width: note.width, height: note.height, rx: 6 }, g);
      var object = el("foreignObject", { x: 0, y: 0, width: note.width, height: note.height }, g);
      var body = document.createElementNS(XHTML, "div");
      body.className = "sticky-body";
      body.appendChild(window.LinkflowMarkdown.render(note.text));
      object.appendChild(body);
      if (options.editable) {
        var handle = el("rect", { "class": "sticky-resize", x: note.width - 14, y: note.height - 14, width: 14, height: 14,
          "aria-label": "Resize note" }, g);
        handle.addEventListener("pointerdown", function (event) { startNoteDrag(event, note, g, "resize"); });
      }
      g.addEventListener("pointerdown", function (event) {
        if (event.target.closest && event.target.closest("a")) return; // links stay clickable
        startNoteDrag(event, note, g, "move");
      });
      g.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); options.onNoteSelect(note.id, {}); }
      });
    }

    function startNoteDrag(event, note, g, kind) {
      if (event.button !== 0) return;
      event.stopPropagation();
      event.preventDefault();
      var start = toCanvas(event);
      var before = { x: note.x, y: note.y, width: note.width, height: note.height };
      var moved = false;
      g.setPointerCapture(event.pointerId);
      function move(e) {
        if (!options.editable) return;
        var now = toCanvas(e), dx = now.x - start.x, dy = now.y - start.y;
        if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
        moved = true;
        if (kind === "move") {
          note.x = Math.round(before.x + dx); note.y = Math.round(before.y + dy);
          g.setAttribute("transform", "translate(" + note.x + "," + note.y + ")");
        } else {
          note.width = Math.max(80, Math.round(before.width + dx));
          note.height = Math.max(60, Math.round(before.height + dy));
          g.querySelector(".sticky-box").setAttribute("width", note.width);
          g.querySelector(".sticky-box").setAttribute("height", note.height);
          g.querySelector("foreignObject").setAttribute("width", note.width);
          g.querySelector("foreignObject").setAttribute("height", note.height);
          var handle = g.querySelector(".sticky-resize");
          handle.setAttribute("x", note.width - 14); handle.setAttribute("y", note.height - 14);
        }
      }
      function up(e) {
        g.removeEventListener("pointermove", move);
        if (moved) options.onNoteChange(note.id, before);
        else options.onNoteSelect(note.id, { shift: e.shiftKey });
      }
      g.addEventListener("pointermove", move);
      g.addEventListener("pointerup", up, { once: true });
    }

    // --- dragging nodes (the whole selection when the node is part of it) --------------

    function startDrag(event, node, g) {
      if (event.button !== 0 || event.target.classList.contains("port-out")) return;
      event.stopPropagation();
      var start = toCanvas(event);
      var group = isSelected(node.id) ? graph.nodes.filter(function (n) { return isSelected(n.id); }) : [node];
      if (group.indexOf(node) < 0) group.push(node);
      var origins = {};
      group.forEach(function (n) { origins[n.id] = pos(n); });
      drag = { node: node, group: group, origins: origins, start: start, moved: false, shift: event.shiftKey };
      g.setPointerCapture(event.pointerId);
      g.addEventListener("pointermove", onDragMove);
      g.addEventListener("pointerup", onDragEnd, { once: true });
    }

    function onDragMove(event) {
      if (!drag || !options.editable) return;
      var now = toCanvas(event);
      var dx = now.x - drag.start.x, dy = now.y - drag.start.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      drag.group.forEach(function (n) {
        var o = drag.origins[n.id];
        n.position = { x: Math.max(0, Math.round(o.x + dx)), y: Math.max(0, Math.round(o.y + dy)) };
        var g = svg.querySelector('.node[data-node-id="' + CSS.escape(n.id) + '"]');
        if (g) g.setAttribute("transform", "translate(" + n.position.x + "," + n.position.y + ")");
      });
      drawEdges(svg.querySelector(".edges"));
    }

    function onDragEnd(event) {
      var done = drag;
      drag = null;
      event.currentTarget.removeEventListener("pointermove", onDragMove);
      if (done.moved) options.onMove(done.node.id, done.origins);
      else options.onSelect(done.node.id, { shift: done.shift });
    }

    function startConnect(event, node, port) {
      event.stopPropagation();
      event.preventDefault();
      var from = portPoint(node, port);
      var line = el("path", { "class": "edge-draft", d: curve(from, from) }, svg.querySelector(".edges"));
      function move(e) { line.setAttribute("d", curve(from, toCanvas(e))); }
      function up(e) {
        document.removeEventListener("pointermove", move);
        document.removeEventListener("pointerup", up);
        line.remove();
        var hit = document.elementFromPoint(e.clientX, e.clientY);
        var target = hit && hit.closest && hit.closest(".node");
        if (target && target.dataset.nodeId !== node.id) options.onConnect(node.id, port, target.dataset.nodeId);
      }
      document.addEventListener("pointermove", move);
      document.addEventListener("pointerup", up);
    }

    // --- pan, zoom and the selection box (viewport mode) ------------------------------

    function applyView() {
      if (stage) stage.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
      svg.dataset.zoom = String(Math.round(view.k * 100) / 100);
    }

    function zoomAt(factor, cx, cy) {
      var k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
      view.x = cx - ((cx - view.x) * k) / view.k;
      view.y = cy - ((cy - view.y) * k) / view.k;
      view.k = k;
      applyView();
    }

    function zoomBy(factor) {
      var box = svg.getBoundingClientRect();
      zoomAt(factor, box.width / 2, box.height / 2);
    }

    function bounds() {
      var box = null;
      function add(x, y, w, h) {
        if (!box) box = { x1: x, y1: y, x2: x + w, y2: y + h };
        else {
          box.x1 = Math.min(box.x1, x); box.y1 = Math.min(box.y1, y);
          box.x2 = Math.max(box.x2, x + w); box.y2 = Math.max(box.y2, y + h);
        }
      }
      graph.nodes.forEach(function (n) { var p = pos(n); add(p.x, p.y, W, nodeHeight(outputsOf(n)) + 16); });
      (marks.notes || []).forEach(function (n) { add(n.x, n.y, n.width, n.height); });
      return box;
    }

    // Everything on the canvas in view, centred, at most at 100 %.
    function fit() {
      var box = bounds();
      var size = svg.getBoundingClientRect();
      if (!box || !size.width || !size.height) { view = { x: 0, y: 0, k: 1 }; return applyView(); }
      var margin = 24;
      var k = Math.min(1, (size.width - 2 * margin) / (box.x2 - box.x1), (size.height - 2 * margin) / (box.y2 - box.y1));
      k = Math.max(MIN_ZOOM, k);
      view.k = k;
      view.x = (size.width - (box.x2 - box.x1) * k) / 2 - box.x1 * k;
      view.y = (size.height - (box.y2 - box.y1) * k) / 2 - box.y1 * k;
      applyView();
    }

    function resetView() { view = { x: 0, y: 0, k: 1 }; applyView(); }

    function local(event) {
      var box = svg.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    }

    function startBackground(event) {
      if (event.button !== 0 && event.button !== 1) return;
      if (event.target !== svg && !event.target.classList.contains("canvas-bg")) return;
      event.preventDefault();
      var start = local(event), origin = { x: view.x, y: view.y };
      var boxing = options.editable && event.shiftKey && event.button === 0;
      var from = toCanvas(event), rect = null, moved = false;
      svg.setPointerCapture(event.pointerId);
      function move(e) {
        var now = local(e);
        if (!moved && Math.abs(now.x - start.x) + Math.abs(now.y - start.y) < 4) return;
        moved = true;
        if (boxing) {
          var to = toCanvas(e);
          if (!rect) rect = el("rect", { "class": "select-box" }, stage);
          rect.setAttribute("x", Math.min(from.x, to.x)); rect.setAttribute("y", Math.min(from.y, to.y));
          rect.setAttribute("width", Math.abs(to.x - from.x)); rect.setAttribute("height", Math.abs(to.y - from.y));
        } else {
          view.x = origin.x + now.x - start.x; view.y = origin.y + now.y - start.y;
          applyView();
        }
      }
      function up(e) {
        svg.removeEventListener("pointermove", move);
        svg.removeEventListener("pointerup", up);
        if (boxing && rect) {
          var to = toCanvas(e);
          var x1 = Math.min(from.x, to.x), x2 = Math.max(from.x, to.x);
          var y1 = Math.min(from.y, to.y), y2 = Math.max(from.y, to.y);
          rect.remove();
          var inside = function (x, y, w, h) { return x >= x1 && y >= y1 && x + w <= x2 && y + h <= y2; };
          options.onBoxSelect(
            graph.nodes.filter(function (n) { var p = pos(n); return inside(p.x, p.y, W, nodeHeight(outputsOf(n))); })
              .map(function (n) { return n.id; }),
            (marks.notes || []).filter(function (n) { return inside(n.x, n.y, n.width, n.height); })
              .map(function (n) { return n.id; }));
        } else if (!moved && options.onBackgroundClick) options.onBackgroundClick();
      }
      svg.addEventListener("pointermove", move);
      svg.addEventListener("pointerup", up);
    }

    if (options.viewport) {
      svg.classList.add("has-viewport");
      svg.addEventListener("pointerdown", startBackground);
      svg.addEventListener("wheel", function (event) {
        event.preventDefault();
        if (event.ctrlKey || event.metaKey) {
          var at = local(event);
          zoomAt(Math.exp(-event.deltaY / 300), at.x, at.y);
        } else {
          view.x -= event.deltaX; view.y -= event.deltaY;
          applyView();
        }
      }, { passive: false });
    }

    function render(next, nextMarks) {
      graph = next;
      marks = nextMarks || {};
      svg.textContent = "";
      var defs = el("defs", {}, svg);
      var marker = el("marker", { id: "lf-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", "class": "edge-arrow" }, marker);
      var parent = svg;
      if (options.viewport) {
        el("rect", { "class": "canvas-bg", x: 0, y: 0, width: "100%", height: "100%" }, svg);
        stage = el("g", { "class": "viewport" }, svg);
        parent = stage;
        applyView();
      } else {
        var width = 600, height = 300;
        graph.nodes.forEach(function (node) {
          var p = pos(node);
          width = Math.max(width, p.x + W + PAD * 2);
          height = Math.max(height, p.y + nodeHeight(outputsOf(node)) + PAD + 10);
        });
        svg.setAttribute("width", width);
        svg.setAttribute("height", height);
        svg.setAttribute("viewBox", "0 0 " + width + " " + height);
      }
      var notes = el("g", { "class": "notes" }, parent);
      (marks.notes || []).forEach(function (note) { drawNote(notes, note); });
      drawEdges(el("g", { "class": "edges" }, parent));
      var nodes = el("g", { "class": "nodes" }, parent);
      graph.nodes.forEach(function (node) { drawNode(nodes, node); });
    }

    return {
      render: render, outputsOf: outputsOf, zoomBy: zoomBy, fit: fit, resetView: resetView,
      view: function () { return { x: view.x, y: view.y, k: view.k }; },
    };
  }

  window.LinkflowGraph = { create: create, NODE_WIDTH: W, NODE_HEIGHT: H };
})();
