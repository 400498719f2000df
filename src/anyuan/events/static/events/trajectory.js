/* The trajectory timeline: one row per zone, one bar per stay (ECharts, served locally).
 * Data from #trajectory-timeline (events/views.py: timeline_of); open stays are amber,
 * an exit without entry is a thin mark. Names are set as text by ECharts, never as HTML. */
(function () {
  "use strict";
  var box = document.getElementById("trajectory-chart");
  var source = document.getElementById("trajectory-timeline");
  if (!box || !source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var zones = data.zones;
  box.style.height = Math.max(180, 76 + zones.length * 28) + "px";
  var bars = data.stays.map(function (s) {
    return {
      value: [zones.indexOf(s.zone), new Date(s.from).getTime(), new Date(s.to).getTime()],
      stay: s,
      itemStyle: { color: s.inside ? "#f59f00" : s.partial ? "#8a97a6" : "#1c7ed6" }
    };
  });
  function fmt(t) {
    return new Date(t).toLocaleString(document.documentElement.lang === "en" ? "en" : "zh-CN", { hour12: false });
  }
  // open on the stays (with a margin), not on the whole window: stays are minutes, the
  // window a day or more; the slider below zooms out
  var first = Math.min.apply(null, bars.map(function (b) { return b.value[1]; }));
  var last = Math.max.apply(null, bars.map(function (b) { return b.value[2]; }));
  var margin = Math.max((last - first) * 0.1, 5 * 60 * 1000);
  var chart = window.echarts.init(box);
  chart.setOption({
    grid: { left: 8, right: 16, top: 8, bottom: 56, containLabel: true },
    dataZoom: [
      { type: "slider", xAxisIndex: 0, filterMode: "weakFilter", bottom: 8, height: 20,
        startValue: Math.max(first - margin, new Date(data.start).getTime()),
        endValue: Math.min(last + margin, new Date(data.end).getTime()) },
      { type: "inside", xAxisIndex: 0, filterMode: "weakFilter" }
    ],
    tooltip: {
      formatter: function (p) {
        var s = p.data.stay;
        var note = s.inside ? box.dataset.inside : s.partial ? box.dataset.partial : "";
        return [s.zone, fmt(s.from) + " – " + fmt(s.to), note].filter(Boolean)
          .map(function (t) { return window.echarts.format.encodeHTML(t); }).join("<br>");
      }
    },
    xAxis: { type: "time", min: new Date(data.start).getTime(), max: new Date(data.end).getTime() },
    yAxis: { type: "category", data: zones, inverse: true },
    series: [{
      type: "custom",
      encode: { x: [1, 2], y: 0 },
      data: bars,
      renderItem: function (params, api) {
        var row = api.value(0);
        var a = api.coord([api.value(1), row]);
        var b = api.coord([api.value(2), row]);
        var h = api.size([0, 1])[1] * 0.6;
        var width = Math.max(b[0] - a[0], 3);
        return {
          type: "rect",
          shape: window.echarts.graphic.clipRectByRect(
            { x: a[0], y: a[1] - h / 2, width: width, height: h },
            { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height }
          ),
          style: api.style()
        };
      }
    }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
