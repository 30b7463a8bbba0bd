// The server's resource charts (uPlot, vendored): axes with units and times in the page's language,
// values under the cursor in the legend. The SVG lines in the markup stay as the fallback.
(function () {
  "use strict";

  var lang = document.documentElement.lang || "de";
  // The portal's English writes dates the European way (portal/formats/en: "7 Dec"), so do the
  // charts; Intl's plain "en" is American ("Dec 7").
  var dateLang = lang === "en" ? "en-GB" : lang;
  var COLOURS = { cpu: "#1f6feb", cpumax: "#9ec2f7", memory: "#2e8b57", netin: "#8250df", netout: "#d4a017", diskread: "#bf8700", diskwrite: "#cf222e" };
  // The CPU chart shows each row's peak (Proxmox's cf=MAX) beside its average: a short spike stays visible in a week.
  var CHARTS = { cpu: ["cpu", "cpumax"], memory: ["memory"], network: ["netin", "netout"], disk: ["diskread", "diskwrite"] };

  var percent = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  function pct(v) { return v == null ? "–" : percent.format(v) + " %"; }
  function rate(v) {
    if (v == null) { return "–"; }
    var units = ["B/s", "kB/s", "MB/s", "GB/s"], i = 0;
    while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return new Intl.NumberFormat(lang, { maximumFractionDigits: v < 10 ? 1 : 0 }).format(v) + " " + units[i];
  }

  function timeFormats(span, zone) {
    // 24-hour clock in every language: the portal's customers are in Europe. The tenant's time zone,
    // as the page's own times have it, not the browser's.
    var clock = new Intl.DateTimeFormat(dateLang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
    var day = new Intl.DateTimeFormat(dateLang, { day: "numeric", month: "short", timeZone: zone });
    var full = new Intl.DateTimeFormat(dateLang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
    return {
      axis: function (t) { return (span <= 86400 ? clock : day).format(new Date(t * 1000)); },
      full: function (t) { return t == null ? "–" : full.format(new Date(t * 1000)); },
    };
  }

  function draw(root) {
    var grid = root.querySelector("[data-series]");
    if (!grid || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(grid.getAttribute("data-series"));
    var labels = JSON.parse(grid.getAttribute("data-labels"));
    var times = data.time;
    if (!times || times.length < 2) { return; }
    var zone = grid.getAttribute("data-time-zone") || undefined;
    var fmt = timeFormats(times[times.length - 1] - times[0], zone);
    var charts = root.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) { chart(charts[i], data, labels, fmt, zone); }
  }

  function chart(box, data, labels, fmt, zone) {
    var name = box.getAttribute("data-chart"), keys = CHARTS[name];
    var isPct = name === "cpu" || name === "memory";
    var value = isPct ? pct : rate;
    var series = [{ label: labels.time, value: function (u, v) { return fmt.full(v); } }];
    var columns = [data.time];
    keys.forEach(function (key) {
      if (!data[key]) { return; }
      series.push({ label: labels[key], stroke: COLOURS[key], width: key === "cpumax" ? 1 : 1.5, value: function (u, v) { return value(v); } });
      columns.push(data[key]);
    });
    var opts = {
      width: Math.max(240, box.parentNode.clientWidth - 40), height: 180, series: series,
      scales: isPct ? { y: { range: [0, 100] } } : { y: { range: function (u, min, max) { return [0, Math.max(max, 1)]; } } },
      axes: [
        { values: function (u, splits) { return splits.map(fmt.axis); }, size: 36 },
        { values: function (u, splits) { return splits.map(value); }, size: isPct ? 50 : 70 },
      ],
      cursor: { drag: { x: false, y: false } },
    };
    // Ticks on the hours and days of the tenant's zone too, not the browser's.
    if (zone) { opts.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1000), zone); }; }
    box.innerHTML = "";
    var svg = box.parentNode.querySelector("svg");
    if (svg) { svg.style.display = "none"; }
    box.chart = new uPlot(opts, columns, box);
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) {
    if (event.target.id === "graphs" || (event.target.querySelector && event.target.querySelector("#graphs"))) {
      draw(event.target.id === "graphs" ? event.target : document);
    }
  });
})();
