"""Public disclosure (机构公示 / 机构检索) and the unit-details API."""
from sqlalchemy import select

from bianzhi.extensions import db
from bianzhi.ledger.models import Person
from tests.fixtures.cases import CLERK1_UNIT, CLERK2_UNIT

UNKNOWN = "12330621Z99000000X"


def _people(app):
    with app.app_context():
        rows = db.session.execute(select(Person.name, Person.id_number, Person.code)).all()
    assert len(rows) > 300  # the demo district's roll
    return rows


def test_public_units_anonymous_show_units_and_approved_figures(client):
    response = client.get("/public/units")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in ("绍兴市柯桥区疾病预防控制中心", "绍兴市柯桥区档案馆", "绍兴市柯桥区委办公室", "绍兴市柯桥区融媒体中心"):
        assert name in html
    assert "事业编制 40 名" in html  # 疾控中心: approved 40 (33 on roll is not disclosed)
    assert "行政编制 45 名" in html and "政法专项编制 6 名" in html  # 市场监督管理局
    assert "领导职数正职 1" in html and "中层职数副职 4" in html
    assert "业务一科" in html and "政策法规科" in html  # internal departments
    assert "卫生健康" in html and "自收自支" in html and "副科级" in html
    assert f'href="/public/units/{CLERK1_UNIT}"' in html


def test_public_unit_page(client):
    response = client.get(f"/public/units/{CLERK1_UNIT}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "绍兴市柯桥区疾病预防控制中心" in html and CLERK1_UNIT in html
    assert "绍兴市柯桥区卫生健康局" in html  # parent
    assert "<td>事业编制</td><td>40</td>" in html
    assert "公益一类" in html and "绍县编〔2001〕" in html and "质量管理科" in html
    assert "在编" not in html and "空编" not in html  # approved figures only
    parent = client.get("/public/units/12330621A04000000X").get_data(as_text=True)
    assert "所属机构" in parent and "绍兴市柯桥区人民医院" in parent
    assert client.get(f"/public/units/{UNKNOWN}").status_code == 404


def test_public_pages_carry_no_personal_data(app, client):
    people = _people(app)
    pages = {path: client.get(path).get_data(as_text=True)
             for path in ["/public/units", "/public/units?q=中心", f"/public/units/{CLERK1_UNIT}",
                          f"/public/units/{CLERK2_UNIT}", "/public/units/12330621B05000000X"]}
    for path, html in pages.items():
        leaks = [p for p in people if p.name in html or p.id_number in html or p.code in html]
        assert not leaks, (path, leaks[:3])


def test_public_search(client):
    html = client.get("/public/units", query_string={"q": "档案"}).get_data(as_text=True)
    assert "绍兴市柯桥区档案馆" in html and "共 1 个机构" in html
    assert "疾病预防控制中心" not in html
    html = client.get("/public/units", query_string={"q": "中心"}).get_data(as_text=True)
    assert "疾病预防控制中心" in html and "融媒体中心" in html and "城市建设发展中心" in html
    assert "档案馆" not in html and "共 3 个机构" in html
    html = client.get("/public/units", query_string={"q": CLERK2_UNIT}).get_data(as_text=True)
    assert "绍兴市柯桥区档案馆" in html and "共 1 个机构" in html
    html = client.get("/public/units", query_string={"q": "100%_不存在"}).get_data(as_text=True)
    assert "没有符合条件的机构" in html and "共 0 个机构" in html


def test_the_disclosure_is_the_installations_and_narrows_to_one_offices_jurisdiction(client):
    """机构公示 is public for every office's units (a citizen of one district may look up another's);
    the 编办 filter narrows it to one office and the offices below it."""
    everything = client.get("/public/units").get_data(as_text=True)
    assert "共 15 个机构" in everything  # 柯桥's 11 units and 越城's 4
    assert "绍兴市越城区图书馆" in everything and "绍兴市柯桥区档案馆" in everything
    assert '<option value="330602">越城区委编办</option>' in everything
    both = client.get("/public/units", query_string={"q": "教育体育局"}).get_data(as_text=True)
    assert "绍兴市柯桥区教育体育局" in both and "绍兴市越城区教育体育局" in both and "共 2 个机构" in both
    keqiao = client.get("/public/units", query_string={"q": "教育体育局", "office": "330603"}).get_data(as_text=True)
    assert "绍兴市柯桥区教育体育局" in keqiao and "越城" not in keqiao.split("</select>")[1]
    assert "共 1 个机构" in keqiao and "柯桥区委编办辖区" in keqiao
    yuecheng = client.get("/public/units", query_string={"office": "330602"}).get_data(as_text=True)
    assert "共 4 个机构" in yuecheng and "绍兴市越城区第一中学" in yuecheng and "绍兴市柯桥区" not in yuecheng
    city = client.get("/public/units", query_string={"office": "330600"}).get_data(as_text=True)
    assert "共 15 个机构" in city  # the city's jurisdiction: both districts
    unknown = client.get("/public/units", query_string={"office": "999999"}).get_data(as_text=True)
    assert "共 15 个机构" in unknown  # an unknown office filters nothing
    page = client.get("/public/units/12330602B01000000X").get_data(as_text=True)
    assert "<dt>所属编办</dt><dd>越城区委编办</dd>" in page and "地方文献" in page and "越编〔2001〕" in page


def test_login_page_links_to_public_disclosure(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/public/units"' in html and "机构公示" in html


def test_unit_api_fields_and_permissions(client, api):
    clerk = api("clerk1")
    response = clerk.get(f"/api/v1/units/{CLERK1_UNIT}")
    assert response.status_code == 200
    body = response.json
    assert {"code", "name", "parent", "kind", "level", "funding", "system", "founded", "document"} <= set(body)
    assert body["code"] == CLERK1_UNIT and body["name"] == "绍兴市柯桥区疾病预防控制中心"
    assert body["parent"] == "12330621A04000000X" and body["kind"] == "事业单位" and body["level"] == "正科级"
    assert body["funding"] == "全额" and body["system"] == "卫生健康" and body["founded"] == "2001-06-01"
    assert body["document"].startswith("绍县编〔2001〕") and body["departments"][0] == "办公室"

    denied = clerk.get(f"/api/v1/units/{CLERK2_UNIT}")
    assert denied.status_code == 403 and denied.json["error"]["message"]
    assert "档案馆" not in denied.get_data(as_text=True)

    reviewer = api("reviewer1")
    assert reviewer.get(f"/api/v1/units/{CLERK2_UNIT}").json["name"] == "绍兴市柯桥区档案馆"
    top = reviewer.get("/api/v1/units/12330621A01000000X").json
    assert top["parent"] is None and top["kind"] == "党政机关"
    missing = reviewer.get(f"/api/v1/units/{UNKNOWN}")
    assert missing.status_code == 404 and missing.json["error"]["code"]
    assert client.get(f"/api/v1/units/{CLERK1_UNIT}").status_code == 401
    assert api("finance1").get(f"/api/v1/units/{CLERK1_UNIT}").status_code == 403


def test_unit_api_is_described(client):
    spec = client.get("/api/v1/openapi.json").json
    op = spec["paths"]["/api/v1/units/{code}"]["get"]
    assert {"200", "401", "403", "404"} <= set(op["responses"])
    assert {"code", "name", "parent", "founded", "document"} <= set(spec["components"]["schemas"]["Unit"]["required"])


def test_units_are_found_by_their_functions_and_show_them(client):
    html = client.get("/public/units?q=新闻宣传").get_data(as_text=True)
    assert "共 1 个机构" in html and "绍兴市柯桥区融媒体中心" in html
    page = client.get(f"/public/units/{CLERK2_UNIT}").get_data(as_text=True)
    assert "主要职责" in page and "负责全区档案的收集、保管、利用和档案信息化建设。" in page
