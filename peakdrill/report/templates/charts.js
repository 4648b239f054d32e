/* peakdrill report charts: a small dependency-free SVG renderer.
 * Reads the JSON in <script id="peakdrill-data"> and draws every <svg data-chart="...">.
 * After drawing, each svg carries data-drawn="true" and data-points="<points drawn>". */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var source = document.getElementById("peakdrill-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  var W = 960, H = 340, M = {l: 66, r: 18, t: 40, b: 48};

  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) { if (attrs.hasOwnProperty(key)) { node.setAttribute(key, attrs[key]); } }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e6) { return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M"; }
    if (a >= 1e4) { return (v / 1e3).toFixed(0) + "k"; }
    if (a >= 100 || v === Math.round(v)) { return String(Math.round(v)); }
    if (a >= 1) { return v.toFixed(1); }
    return String(Number(v.toPrecision(2)));
  }

  function niceStep(range, count) {
    var raw = range / Math.max(1, count), p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var n = raw / p;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * p;
  }

  function linearTicks(min, max, count) {
    var step = niceStep(max - min || 1, count), ticks = [];
    for (var v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) { ticks.push(Number(v.toPrecision(12))); }
    return ticks;
  }

  function logTicks(min, max) {
    var ticks = [];
    for (var e = Math.floor(Math.log(min) / Math.LN10); e <= Math.ceil(Math.log(max) / Math.LN10); e++) {
      [1, 2, 5].forEach(function (m) {
        var v = m * Math.pow(10, e);
        if (v >= min * 0.999 && v <= max * 1.001) { ticks.push(Number(v.toPrecision(6))); }
      });
    }
    return ticks;
  }

  function draw(svg, spec) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    var pw = W - M.l - M.r, ph = H - M.t - M.b, log = spec.yScale === "log";
    var values = [];
    spec.series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && (!log || v > 0)) { values.push(v); } }); });
    (spec.hlines || []).forEach(function (h) { values.push(h.y); });
    var xmin = spec.xMin, xmax = Math.max(spec.xMax, xmin + 1);
    var ymin, ymax;
    if (log) {
      ymin = Math.pow(10, Math.floor(Math.log(Math.max(0.01, Math.min.apply(null, values.concat([1])))) / Math.LN10));
      ymax = Math.pow(10, Math.ceil(Math.log(Math.max.apply(null, values.concat([ymin * 10]))) / Math.LN10));
    } else {
      ymin = 0;
      ymax = Math.max.apply(null, values.concat([1])) * 1.1;
      ymax = linearTicks(0, ymax, 5).slice(-1)[0] < ymax ? ymax : linearTicks(0, ymax, 5).slice(-1)[0];
    }
    function X(x) { return M.l + (x - xmin) / (xmax - xmin) * pw; }
    function Y(y) {
      if (log) { var c = Math.max(y, ymin); return M.t + ph - (Math.log(c / ymin) / Math.log(ymax / ymin)) * ph; }
      return M.t + ph - (y - ymin) / (ymax - ymin) * ph;
    }
    el("rect", {x: M.l, y: M.t, width: pw, height: ph, "class": "plot-bg"}, svg);
    (spec.bands || []).forEach(function (b) {
      var x0 = X(Math.max(b.from, xmin)), x1 = X(Math.min(b.to === null ? xmax : b.to, xmax));
      var g = el("g", {"class": "band"}, svg);
      el("rect", {x: x0, y: M.t, width: Math.max(1, x1 - x0), height: ph, "class": "band-fill"}, g);
      el("title", {}, g, b.label);
      el("text", {x: x0 + 4, y: M.t + 14, "class": "band-label"}, g, b.label);
    });
    var yticks = log ? logTicks(ymin, ymax) : linearTicks(ymin, ymax, 5);
    yticks.forEach(function (v) {
      el("line", {x1: M.l, x2: M.l + pw, y1: Y(v), y2: Y(v), "class": "grid"}, svg);
      el("text", {x: M.l - 8, y: Y(v) + 4, "class": "tick", "text-anchor": "end"}, svg, fmt(v));
    });
    linearTicks(xmin, xmax, 10).forEach(function (v) {
      el("line", {x1: X(v), x2: X(v), y1: M.t + ph, y2: M.t + ph + 5, "class": "axis"}, svg);
      el("text", {x: X(v), y: M.t + ph + 18, "class": "tick", "text-anchor": "middle"}, svg, fmt(v));
    });
    (spec.marks || []).forEach(function (m) {
      if (m.at < xmin || m.at > xmax) { return; }
      el("line", {x1: X(m.at), x2: X(m.at), y1: M.t, y2: M.t + ph, "class": "stage-mark"}, svg);
      el("text", {x: X(m.at) + 4, y: M.t + ph - 6, "class": "stage-label"}, svg, m.label);
    });
    (spec.hlines || []).forEach(function (h) {
      el("line", {x1: M.l, x2: M.l + pw, y1: Y(h.y), y2: Y(h.y), "class": "target-line"}, svg);
      el("text", {x: M.l + pw - 4, y: Y(h.y) - 5, "class": "target-label", "text-anchor": "end"}, svg, h.label);
    });
    var points = 0;
    spec.series.forEach(function (s) {
      var d = "", pen = false;
      for (var i = 0; i < s.values.length; i++) {
        var v = s.values[i];
        if (v === null || v === undefined) { pen = false; continue; }
        d += (pen ? "L" : "M") + X(spec.x[i]).toFixed(1) + " " + Y(v).toFixed(1);
        pen = true;
        points++;
      }
      if (d) {
        el("path", {d: d, "class": "series", stroke: s.color, "stroke-width": s.width || 1.8,
                    "stroke-dasharray": s.dash || "none"}, svg);
      }
    });
    el("line", {x1: M.l, x2: M.l, y1: M.t, y2: M.t + ph, "class": "axis"}, svg);
    el("line", {x1: M.l, x2: M.l + pw, y1: M.t + ph, y2: M.t + ph, "class": "axis"}, svg);
    el("text", {x: M.l + pw / 2, y: H - 8, "class": "axis-title", "text-anchor": "middle"}, svg, spec.xLabel);
    el("text", {x: 16, y: M.t + ph / 2, "class": "axis-title", "text-anchor": "middle",
                transform: "rotate(-90 16 " + (M.t + ph / 2) + ")"}, svg, spec.yLabel);
    var lx = M.l;
    spec.series.concat(spec.hlines || []).forEach(function (s) {
      var g = el("g", {"class": "legend"}, svg);
      el("line", {x1: lx, x2: lx + 22, y1: 16, y2: 16, stroke: s.color || "#b91c1c", "stroke-width": 3,
                  "stroke-dasharray": s.dash || "none"}, g);
      var label = el("text", {x: lx + 28, y: 20, "class": "legend-label"}, g, s.name || s.label);
      lx += 40 + Math.max(40, (s.name || s.label).length * 6.6);
    });
    if ((spec.bands || []).length) {
      el("rect", {x: lx, y: 9, width: 22, height: 14, "class": "band-fill"}, svg);
      el("text", {x: lx + 28, y: 20, "class": "legend-label"}, svg, "fault window");
    }
    addHover(svg, spec, X, pw, ph);
    svg.setAttribute("data-points", String(points));
    svg.setAttribute("data-drawn", "true");
  }

  function addHover(svg, spec, X, pw, ph) {
    var cursor = el("line", {x1: 0, x2: 0, y1: M.t, y2: M.t + ph, "class": "cursor", visibility: "hidden"}, svg);
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    svg.parentNode.appendChild(tip);
    svg.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect(), x = (ev.clientX - box.left) / box.width * W;
      if (x < M.l || x > M.l + pw || !spec.x.length) { cursor.setAttribute("visibility", "hidden"); tip.style.display = "none"; return; }
      var best = 0;
      for (var i = 1; i < spec.x.length; i++) { if (Math.abs(X(spec.x[i]) - x) < Math.abs(X(spec.x[best]) - x)) { best = i; } }
      cursor.setAttribute("x1", X(spec.x[best])); cursor.setAttribute("x2", X(spec.x[best]));
      cursor.setAttribute("visibility", "visible");
      var rows = ["t=" + fmt(spec.x[best]) + " s"];
      spec.series.forEach(function (s) { var v = s.values[best]; rows.push(s.name + ": " + (v === null ? "-" : fmt(v) + (spec.unit || ""))); });
      tip.textContent = rows.join("\n");
      tip.style.display = "block";
      tip.style.left = (ev.clientX - svg.parentNode.getBoundingClientRect().left + 14) + "px";
      tip.style.top = (ev.clientY - svg.parentNode.getBoundingClientRect().top + 14) + "px";
    });
    svg.addEventListener("mouseleave", function () { cursor.setAttribute("visibility", "hidden"); tip.style.display = "none"; });
  }

  var bands = data.faults.map(function (f) { return {from: f.start_t, to: f.end_t, label: f.label}; });
  var marks = data.stages.map(function (s) { return {at: s.start_s, label: s.name + (s.measured ? "" : " (not scored)")}; });
  var s = data.series, xMin = Math.min(0, s.t.length ? s.t[0] : 0), xMax = Math.max(data.duration_s, s.t.length ? s.t[s.t.length - 1] + 1 : 1);
  var palette = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#7c2d12"];
  var specs = {
    latency: {x: s.t, xMin: xMin, xMax: xMax, yScale: "log", unit: " ms", bands: bands, marks: marks,
              xLabel: "run time (s)", yLabel: "latency (ms, log scale)",
              // the bounds of the latency rules that apply to the run's requests (none: no line)
              hlines: data.latency_bounds.map(function (b) { return {y: b.ms, label: b.label, color: "#b91c1c", dash: "6 4"}; }),
              series: [{name: "p50 all", values: s.p50, color: "#93c5fd"},
                       {name: "p95 all", values: s.p95, color: "#3b82f6"},
                       {name: "p99 all", values: s.p99, color: "#1e3a8a"},
                       {name: "cache-read p99", values: s.cache_p99, color: "#f59e0b", width: 2.6}]},
    throughput: {x: s.t, xMin: xMin, xMax: xMax, yScale: "linear", unit: "/s", bands: bands, marks: marks,
                 xLabel: "run time (s)", yLabel: "requests per second",
                 series: [{name: "requests/s", values: s.rps, color: "#2563eb"},
                          {name: "failures/s", values: s.fps, color: "#dc2626", width: 2.2}]}
  };
  if (data.server_cache) {
    var sc = data.server_cache;
    specs.server_cache = {x: sc.t, xMin: xMin, xMax: xMax, yScale: "linear", unit: " ops/s", bands: bands, marks: marks,
                          xLabel: "run time (s)", yLabel: "cache operations per second",
                          series: Object.keys(sc.series).map(function (k, i) {
                            return {name: k, values: sc.series[k], color: /error/.test(k) ? "#dc2626" : palette[i % palette.length]};
                          })};
  }
  var svgs = document.querySelectorAll("svg[data-chart]");
  for (var i = 0; i < svgs.length; i++) {
    var spec = specs[svgs[i].getAttribute("data-chart")];
    if (spec) {
      try { draw(svgs[i], spec); } catch (err) { svgs[i].setAttribute("data-error", String(err)); }
    }
  }
})();
