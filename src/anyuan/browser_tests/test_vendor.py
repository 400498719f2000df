"""Front-end libraries are served from node_modules by the app itself (no CDN): ECharts
at ``{% static 'vendor/echarts/echarts.min.js' %}``."""

import json

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

ECHARTS = "vendor/echarts/echarts.min.js"


def echarts_version() -> str:
    package = settings.NODE_MODULES / "echarts" / "package.json"
    return json.loads(package.read_text(encoding="utf-8"))["version"]


def test_echarts_is_served_as_a_static_file(client):
    response = client.get(static(ECHARTS))
    assert response.status_code == 200, "echarts comes from node_modules: `npm ci`"
    assert response["Content-Type"].startswith("text/javascript")
    body = b"".join(response.streaming_content)
    assert f'version="{echarts_version()}"'.encode() in body


DRAW = """() => {
  const box = document.createElement("div");
  box.style.cssText = "width: 320px; height: 200px";
  document.body.appendChild(box);
  const chart = echarts.init(box);
  chart.setOption({animation: false, xAxis: {data: ["一", "二"]}, yAxis: {},
                   series: [{type: "bar", data: [3, 5]}]});
  return {version: echarts.version, canvases: box.querySelectorAll("canvas").length};
}"""


@pytest.mark.browser
def test_echarts_loads_and_draws_in_the_browser(stack, open_page):
    page = open_page()
    page.goto(reverse("accounts:login"))
    with page.expect_response(lambda r: r.url.endswith(static(ECHARTS))) as loaded:
        page.add_script_tag(url=static(ECHARTS))
    assert loaded.value.status == 200
    assert loaded.value.headers["content-type"].startswith("text/javascript")
    assert page.evaluate(DRAW) == {"version": echarts_version(), "canvases": 1}
