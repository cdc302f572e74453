// Draws a workflow graph on an SVG canvas; shared by the editor and the run view.
// LinkflowGraph.create(svg, {catalog, editable, onSelect, onMove, onConnect, onEdgeSelect})
// returns {render(graph, marks), positionOf(id)}. Geometry matches workflows/editor.py.
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var W = 180, H = 64, PAD = 40;

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

    function toCanvas(event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX; point.y = event.clientY;
      return point.matrixTransform(svg.getScreenCTM().inverse());
    }

    function byId(id) {
      for (var i = 0; i < graph.nodes.length; i++) if (graph.nodes[i].id === id) return graph.nodes[i];
      return null;
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
            if (event.key === "Delete" || event.key === "Backspace") { event.preventDefault(); options.onEdgeDelete(index); }
          });
        }
        var label = el("text", { "class": "edge-label" + (port === "main" ? " edge-label-main" : ""),
          x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 6, "text-anchor": "middle" }, g);
        label.textContent = port;
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
      if (marks.selected === node.id) classes.push("selected");
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
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); options.onSelect(node.id); }
      });
    }

    function startDrag(event, node, g) {
      if (event.button !== 0 || event.target.classList.contains("port-out")) return;
      var start = toCanvas(event), origin = pos(node);
      drag = { node: node, g: g, start: start, origin: origin, moved: false, id: event.pointerId };
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
      drag.node.position = { x: Math.max(0, Math.round(drag.origin.x + dx)), y: Math.max(0, Math.round(drag.origin.y + dy)) };
      drag.g.setAttribute("transform", "translate(" + drag.node.position.x + "," + drag.node.position.y + ")");
      drawEdges(svg.querySelector(".edges"));
    }

    function onDragEnd() {
      var done = drag;
      drag = null;
      done.g.removeEventListener("pointermove", onDragMove);
      if (done.moved) options.onMove(done.node.id, done.node.position);
      else options.onSelect(done.node.id);
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

    function render(next, nextMarks) {
      graph = next;
      marks = nextMarks || {};
      svg.textContent = "";
      var defs = el("defs", {}, svg);
      var marker = el("marker", { id: "lf-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", "class": "edge-arrow" }, marker);
      var width = 600, height = 300;
      graph.nodes.forEach(function (node) {
        var p = pos(node);
        width = Math.max(width, p.x + W + PAD * 2);
        height = Math.max(height, p.y + nodeHeight(outputsOf(node)) + PAD + 10);
      });
      svg.setAttribute("width", width);
      svg.setAttribute("height", height);
      svg.setAttribute("viewBox", "0 0 " + width + " " + height);
      drawEdges(el("g", { "class": "edges" }, svg));
      var nodes = el("g", { "class": "nodes" }, svg);
      graph.nodes.forEach(function (node) { drawNode(nodes, node); });
    }

    return { render: render, outputsOf: outputsOf };
  }

  window.LinkflowGraph = { create: create, NODE_WIDTH: W, NODE_HEIGHT: H };
})();
