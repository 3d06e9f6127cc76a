// Draws the statistics charts with ECharts from the page's JSON data island
// (<script type="application/json" id="chart-data">): a list of
// {key, type: bar|stacked|line|pie, title, categories, series: [{name, data}]}.
// Each chart goes into <div class="chart" data-chart="KEY">; the table beside it holds the same
// numbers and works without JavaScript.
(function () {
  "use strict";
  var island = document.getElementById("chart-data");
  if (!island || typeof window.echarts === "undefined") { return; }
  var specs;
  try { specs = JSON.parse(island.textContent); } catch (e) { return; }

  function pie(spec) {
    return {
      tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
        data: spec.categories.map(function (name, i) { return { name: name, value: spec.series[0].data[i] }; }) }]
    };
  }

  function axes(spec) {
    var many = spec.categories.length > 6;
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0, type: "scroll" },
      grid: { left: 10, right: 20, top: 30, bottom: 10, containLabel: true },
      xAxis: { type: "category", data: spec.categories,
        axisLabel: { interval: 0, rotate: many ? 30 : 0, width: 120, overflow: "truncate" } },
      yAxis: { type: "value", minInterval: 1 },
      series: spec.series.map(function (s) {
        return { name: s.name, type: spec.type === "line" ? "line" : "bar", data: s.data, symbolSize: 8,
          stack: spec.type === "stacked" ? "total" : undefined };
      })
    };
  }

  var charts = [];
  specs.forEach(function (spec) {
    var el = document.querySelector('[data-chart="' + spec.key + '"]');
    if (!el) { return; }
    var chart = window.echarts.init(el);
    var option = spec.type === "pie" ? pie(spec) : axes(spec);
    option.animation = false;  // figures, not a show: drawn at once (and printed as shown)
    if (spec.note) { option.title = { subtext: spec.note, right: 0, top: 0 }; }
    chart.setOption(option);
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
