// fleetpulse console: draws the charts a page declares (Apache ECharts, vendored by ./dev).
// Each <div data-chart=ID> has its option in <script type=application/json id=opt-ID> and its
// click-through targets in links-ID (data index -> URL). No inline script: the CSP forbids it.
"use strict";
(function () {
  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent || "null") : null;
  }
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var id = el.getAttribute("data-chart");
    el.style.height = (parseInt(el.getAttribute("data-height"), 10) || 300) + "px";
    if (typeof echarts === "undefined") {
      el.textContent = "Charts are not built: run ./dev (it vendors Apache ECharts).";
      return;
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(json("opt-" + id));
    var links = json("links-" + id) || [];
    if (links.length) {
      chart.on("click", function (p) {
        if (p.dataIndex != null && links[p.dataIndex]) window.location.href = links[p.dataIndex];
      });
      el.classList.add("clickable");
    }
    el.setAttribute("data-ready", "1");
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
