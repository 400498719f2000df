/* The incident statistics chart (incidents/stats.html): bars by month, this year and the
   year before; the figures come from the page (json_script "incident-chart-data"). */
(function () {
  if (!window.echarts) return;
  var d = JSON.parse(document.getElementById("incident-chart-data").textContent);
  var chart = echarts.init(document.getElementById("incident-chart"));
  chart.setOption({
    tooltip: {trigger: "axis"}, legend: {data: [d.now_name, d.before_name]},
    grid: {left: 30, right: 10, top: 30, bottom: 20},
    xAxis: {type: "category", data: d.labels}, yAxis: {type: "value", minInterval: 1},
    series: [{name: d.now_name, type: "bar", data: d.now, itemStyle: {color: "#1f5fa8"}},
             {name: d.before_name, type: "bar", data: d.before, itemStyle: {color: "#b8c4d4"}}]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
