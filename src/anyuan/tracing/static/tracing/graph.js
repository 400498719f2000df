// The contact graph of a trace run: index cases, close and secondary contacts (ECharts,
// served locally). Data: the JSON in #trace-graph-data; labels: data-* of #trace-graph.
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("trace-graph");
    var source = document.getElementById("trace-graph-data");
    if (!box || !source || typeof echarts === "undefined") return;
    var data = JSON.parse(source.textContent);
    var categories = [
      {name: box.dataset.indexLabel}, {name: box.dataset.closeLabel},
      {name: box.dataset.secondaryLabel}
    ];
    var nodes = {}, list = [];
    function add(kind, id, name, category, minutes) {
      var key = kind + ":" + id;
      if (nodes[key]) return;
      nodes[key] = true;
      list.push({id: key, name: name, category: category, label: {show: category === 0},
                 symbolSize: category === 0 ? 28 : Math.max(8, Math.min(24, 6 + Math.sqrt(minutes || 0)))});
    }
    data.index.forEach(function (i) { add(i[0], i[1], i[2], 0, 0); });
    data.contacts.forEach(function (c) { add(c[0], c[1], c[2], c[3] === 1 ? 1 : 2, c[4]); });
    var links = data.edges.filter(function (e) {
      return nodes[e[0][0] + ":" + e[0][1]] && nodes[e[1][0] + ":" + e[1][1]];
    }).map(function (e) {
      return {source: e[0][0] + ":" + e[0][1], target: e[1][0] + ":" + e[1][1], value: e[2]};
    });
    var chart = echarts.init(box);
    chart.setOption({
      tooltip: {formatter: function (p) {
        return p.dataType === "edge" ? p.value + " " + box.dataset.minutes : p.name;
      }},
      legend: [{data: categories.map(function (c) { return c.name; })}],
      series: [{type: "graph", layout: "force", roam: true, draggable: true,
                data: list, links: links, categories: categories,
                force: {repulsion: 60, edgeLength: [20, 80]},
                lineStyle: {opacity: 0.5}, label: {show: false}}]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
