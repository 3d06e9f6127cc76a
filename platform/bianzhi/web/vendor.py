"""The browser libraries installed from the npm registry (`make assets` → node_modules/), served as
their published dist files: the bpmn-js modeler and viewer, the Camunda moddle extension and the
form-js editor. Only the files listed below are served — never an arbitrary path under
node_modules. URLs carry the package version (`?v=`), so the files are cached for a year."""
import json
from functools import lru_cache

from flask import Blueprint, send_file, url_for

from ..config import ROOT
from ..errors import NotFound

bp = Blueprint("vendor", __name__)

NODE_MODULES = ROOT / "node_modules"
ONE_YEAR = 365 * 24 * 3600

# path under node_modules → the package it belongs to (for the version in the URL)
ALLOWED = {
    "bpmn-js/dist/bpmn-modeler.production.min.js": "bpmn-js",
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-js",
    "bpmn-js/dist/assets/diagram-js.css": "bpmn-js",
    "bpmn-js/dist/assets/bpmn-js.css": "bpmn-js",
    "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css": "bpmn-js",  # the icon font inlined
    "camunda-bpmn-moddle/resources/camunda.json": "camunda-bpmn-moddle",
    "@bpmn-io/form-js/dist/form-editor.umd.js": "@bpmn-io/form-js",
    "@bpmn-io/form-js/dist/assets/form-js.css": "@bpmn-io/form-js",
    "@bpmn-io/form-js/dist/assets/form-js-editor.css": "@bpmn-io/form-js",
    "@bpmn-io/form-js/dist/assets/properties-panel.css": "@bpmn-io/form-js",
    "echarts/dist/echarts.min.js": "echarts",  # the statistics and monitoring charts
}


@lru_cache(maxsize=None)
def package_version(package):
    try:
        return json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return ""


@bp.app_template_global()
def vendor_url(path):
    """The URL of an allowed node_modules file, e.g. vendor_url('bpmn-js/dist/assets/bpmn-js.css')."""
    if path not in ALLOWED:
        raise KeyError(f"{path} is not in the vendor allow-list (platform/bianzhi/web/vendor.py)")
    return url_for("vendor.asset", path=path, v=package_version(ALLOWED[path]) or None)


@bp.get("/vendor/<path:path>")
def asset(path):
    if path not in ALLOWED:
        raise NotFound("没有这个前端资源")
    file = NODE_MODULES / path
    if not file.is_file():
        raise NotFound("前端资源未安装：请在项目目录运行 make assets（需要 Debian 软件包 nodejs npm）")
    response = send_file(file, max_age=ONE_YEAR, conditional=True)
    response.cache_control.immutable = True
    return response
