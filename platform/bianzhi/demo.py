"""The demo district: a realistic small county-level district with units, establishment,
people on roll and a user for every role. Deterministic, idempotent."""
import random
from datetime import date, timedelta

from sqlalchemy import select

from .accounts.operations import create_user
from .extensions import db
from .organisation import operations as org
from .ledger import idnumber
from .ledger.models import Department, Establishment, Person, PostQuota, Unit
from .demo_cases import load_cases
from .documents.demo import load_documents
from .processes.operations import deploy_folder

DISTRICT_CODE = "11330621MB0000000X"
# (code suffix, name, kind, level, funding, system, {category: (approved, on roll)})
UNITS = [
    ("A01", "绍兴市柯桥区委办公室", "党政机关", "正科级", "全额", "党委", {"行政编制": (28, 26), "工勤编制": (3, 2)}),
    ("A02", "绍兴市柯桥区人民政府办公室", "党政机关", "正科级", "全额", "政府", {"行政编制": (32, 30), "工勤编制": (4, 4)}),
    ("A03", "绍兴市柯桥区教育体育局", "党政机关", "正科级", "全额", "政府", {"行政编制": (18, 18)}),
    ("A04", "绍兴市柯桥区卫生健康局", "党政机关", "正科级", "全额", "政府", {"行政编制": (16, 15)}),
    ("A05", "绍兴市柯桥区市场监督管理局", "党政机关", "正科级", "全额", "政府", {"行政编制": (45, 44), "政法专项编制": (6, 6)}),
    ("B01", "绍兴市柯桥区疾病预防控制中心", "事业单位", "正科级", "全额", "卫生健康", {"事业编制": (40, 33)}),
    ("B02", "绍兴市柯桥区档案馆", "事业单位", "副科级", "全额", "党委", {"事业编制": (12, 10)}),
    ("B03", "绍兴市柯桥区人民医院", "事业单位", "正科级", "差额", "卫生健康", {"事业编制": (60, 57)}),
    ("B04", "绍兴市柯桥区柯桥中学", "事业单位", "正科级", "全额", "教育", {"事业编制": (52, 50)}),
    ("B05", "绍兴市柯桥区融媒体中心", "事业单位", "正科级", "差额", "宣传", {"事业编制": (30, 31)}),
    ("B06", "绍兴市柯桥区城市建设发展中心", "事业单位", "副科级", "自收自支", "住房城建", {"事业编制": (15, 15)}),
]
PARENTS = {"B01": "A04", "B03": "A04", "B04": "A03"}
# 主要职责, as the 三定 provisions put them (shortened); shown on the public page
FUNCTIONS = {
    "A01": "负责区委日常运转，承担区委会议的组织、文稿起草和决策督查工作。",
    "A02": "负责区政府日常运转，协调政务工作，承担政务公开、政务服务和应急值守工作。",
    "A03": "负责全区教育和体育事业发展规划，管理各级各类学校，组织开展全民健身。",
    "A04": "负责全区卫生健康事业发展，组织疾病预防控制、医疗服务和妇幼健康工作。",
    "A05": "负责全区市场主体登记、市场监管综合执法、食品药品和特种设备安全监管。",
    "B01": "承担全区传染病、慢性病防控，突发公共卫生事件处置和健康教育工作。",
    "B02": "负责全区档案的收集、保管、利用和档案信息化建设。",
    "B03": "承担全区基本医疗、急诊急救和重大公共卫生事件医疗救治工作。",
    "B04": "实施高中学历教育，促进学生全面发展。",
    "B05": "承担全区新闻宣传、广播电视节目制作播出和新媒体传播工作。",
    "B06": "承担城市基础设施项目建设管理和城市更新项目实施工作。",
}
DEPARTMENTS = {
    "党政机关": ["办公室", "综合科", "政策法规科", "财务审计科"],
    "事业单位": ["办公室", "业务一科", "业务二科", "质量管理科"],
}
# per unit kind: (中层正职, 中层副职) approved
MIDLEVEL = {"党政机关": (4, 3), "事业单位": (4, 4)}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕晓东文斌佳怡子涵浩然欣怡"
EDUCATION = ["研究生", "大学本科", "大学本科", "大学本科", "大学专科"]
POSTS = ["科员", "一级科员", "四级主任科员", "三级主任科员", "专业技术人员", "管理人员"]
USERS = [
    ("clerk1", "钱晓峰", ["unit_clerk"], "B01"),
    ("clerk2", "沈丽娟", ["unit_clerk"], "B02"),
    ("clerk3", "孟浩然", ["unit_clerk"], "B05"),
    ("reviewer1", "周建华", ["reviewer"], None),
    ("reviewer2", "陆佳怡", ["reviewer"], None),
    ("leader1", "傅国强", ["leader"], None),
    ("owner1", "金志远", ["process_owner"], None),
    ("admin", "系统管理员", ["admin"], None),
    ("auditor1", "韩纪明", ["auditor"], None),
    ("finance1", "区财政局预算科（接口）", ["finance"], None),
]
# The organisation (DESIGN.md "Organisation"): the district office of 柯桥区 under the city office
# of 绍兴市, beside a second district (越城区); 柯桥's two sections own its units (归口管理), its
# partner departments act on the steps routed to them (部门联审).
CITY = ("330600", "绍兴市委编办", "city")
OFFICE = ("330603", "柯桥区委编办", "county")
OFFICE_B = ("330602", "越城区委编办", "county")
# (code, name, unit suffixes it owns, reviewers, leaders in charge)
SECTIONS = [
    ("jg", "机关编制科", ("A01", "A02", "A03", "A04", "A05", "B01", "B03"), ("reviewer1", "reviewer2"), ("leader1",)),
    ("sy", "事业编制科", ("B02", "B04", "B05", "B06"), ("reviewer2",), ("leader1",)),
]
PARTNERS = [("zzb", "柯桥区委组织部", "zzb1", "陈组织"), ("rsj", "柯桥区人力社保局", "rsj1", "杨人社"),
            ("czj", "柯桥区财政局", "czj1", "吴财政")]
CITY_USERS = [("city_reviewer1", "丁市审", ["reviewer"]), ("city_leader1", "葛市领", ["leader"]),
              ("city_admin1", "市编办系统管理员", ["admin"])]
# the second district: its units, people and staff
UNITS_B = [
    ("A01", "绍兴市越城区委办公室", "党政机关", "正科级", "全额", "党委", {"行政编制": (24, 22)}),
    ("A02", "绍兴市越城区教育体育局", "党政机关", "正科级", "全额", "政府", {"行政编制": (15, 14)}),
    ("B01", "绍兴市越城区图书馆", "事业单位", "副科级", "全额", "文化", {"事业编制": (14, 11)}),
    ("B02", "绍兴市越城区第一中学", "事业单位", "正科级", "全额", "教育", {"事业编制": (48, 45)}),
]
FUNCTIONS_B = {
    "A01": "负责区委日常运转，承担区委会议的组织、文稿起草和决策督查工作。",
    "A02": "负责全区教育和体育事业发展规划，管理中小学校和幼儿园，组织开展群众体育活动。",
    "B01": "承担全区公共图书借阅、古籍保护、地方文献收藏和全民阅读推广工作。",
    "B02": "实施初中和高中学历教育，促进学生全面发展。",
}
USERS_B = [("clerk_b1", "马越经", ["unit_clerk"], "B01"), ("reviewer_b1", "邵越审", ["reviewer"], None),
           ("leader_b1", "蒋越领", ["leader"], None)]


def _unit_code(suffix, region="330621"):
    return f"12{region}{suffix}{'0' * (9 - len(suffix))}X"


def load_demo(password, seed=20261127, with_cases=False):
    """Create the demo district unless it is there. Returns True when it created it.
    With `with_cases`, also run demo cases of every process into every state."""
    deploy_folder(comment="演示数据初始化")
    if db.session.scalar(select(Unit).where(Unit.code == _unit_code("A01"))) is not None:
        return False
    rng = random.Random(seed)
    city = org.create_office(None, *CITY)
    office = org.create_office(None, *OFFICE, parent=city)
    office_b = org.create_office(None, *OFFICE_B, parent=city)
    units = _units(UNITS, "330621", office, rng, FUNCTIONS)
    serial = _people(UNITS, units, rng, 0)
    units_b = _units(UNITS_B, "330602", office_b, rng, FUNCTIONS_B)  # after 柯桥's people: they stay as they were
    _people(UNITS_B, units_b, rng, serial, prefix="BZDEMOB")
    for person in db.session.scalars(select(Person).where(Person.sex == "")):
        info = idnumber.parse(person.id_number)
        person.sex, person.birth_date = info.sex, info.birth_date
    users = {}
    for username, name, roles, unit_suffix in USERS:
        users[username] = create_user(username, password, name, roles, units[unit_suffix] if unit_suffix else None)
        if unit_suffix is None:
            users[username].office_id = office.id
    for username, name, roles, unit_suffix in USERS_B:
        users[username] = create_user(username, password, name, roles, units_b[unit_suffix] if unit_suffix else None)
        if unit_suffix is None:
            users[username].office_id = office_b.id
    for username, name, roles in CITY_USERS:
        users[username] = create_user(username, password, name, roles)
        users[username].office_id = city.id
    db.session.flush()
    for code, name, owned, reviewers, leaders in SECTIONS:
        section = org.create_section(None, office, code, name)
        for suffix in owned:  # the demo's starting state, not a change: no chronicle entry
            units[suffix].section_id = section.id
        for username in reviewers:
            org.add_member(None, section, users[username], "reviewer")
        for username in leaders:
            org.add_member(None, section, users[username], "leader")
    section_b = org.create_section(None, office_b, "zh", "综合编制科")
    for unit in units_b.values():
        unit.section_id = section_b.id
    org.add_member(None, section_b, users["reviewer_b1"], "reviewer")
    org.add_member(None, section_b, users["leader_b1"], "leader")
    org.create_section(None, city, "jg", "机构编制科")
    for code, name, username, display in PARTNERS:
        dept = org.create_department(None, office, code, name)
        user = create_user(username, password, display, ["partner"])
        org.place_user(None, user, department=dept)
    db.session.flush()
    load_documents()  # 机构编制文件库: 三定规定 and the units' 批复
    if with_cases:
        load_cases()
    return True


# the prefix of each district's 2001 批复 numbers (柯桥区 was 绍兴县 then)
DOC_PREFIX = {"330621": "绍县编", "330602": "越编"}


def _units(rows, region, office, rng, functions):
    units = {}
    for suffix, name, kind, level, funding, system, _ in rows:
        unit = Unit(code=_unit_code(suffix, region), name=name, kind=kind, level=level, office_id=office.id,
                    nature="行政机关" if kind == "党政机关" else "公益一类", funding=funding, system=system,
                    founded=date(2001, 6, 1), approval_doc=f"{DOC_PREFIX[region]}〔2001〕{rng.randint(10, 99)}号",
                    functions=functions.get(suffix))
        units[suffix] = unit
        db.session.add(unit)
    db.session.flush()
    if rows is UNITS:
        for child, parent in PARENTS.items():
            units[child].parent_id = units[parent].id
    return units


def _people(rows, units, rng, serial, prefix="BZDEMO"):
    departments = {}
    for suffix, _name, kind, *_rest in rows:
        unit = units[suffix]
        departments[suffix] = [Department(unit_id=unit.id, name=n) for n in DEPARTMENTS[kind]]
        db.session.add_all(departments[suffix])
        chief, deputy = MIDLEVEL[kind]
        db.session.add_all([PostQuota(unit_id=unit.id, kind="leadership", level="正职", approved=1),
                            PostQuota(unit_id=unit.id, kind="leadership", level="副职", approved=2),
                            PostQuota(unit_id=unit.id, kind="midlevel", level="正职", approved=chief),
                            PostQuota(unit_id=unit.id, kind="midlevel", level="副职", approved=deputy)])
    db.session.flush()
    for suffix, *_rest, establishment in rows:
        unit = units[suffix]
        posts = ["正职"] * 3 + ["副职"] * 2  # some mid-level posts filled, room left in each unit
        for category, (approved, on_roll) in establishment.items():
            db.session.add(Establishment(unit_id=unit.id, category=category, approved=approved))
            for _ in range(on_roll):
                serial += 1
                birth = date(1962, 1, 1) + timedelta(days=rng.randint(0, 365 * 37))
                entry = birth + timedelta(days=365 * rng.randint(22, 30) + rng.randint(0, 300))
                region = rng.choice(["330621", "330602", "330681", "330624"])
                post_level = posts.pop() if posts else None
                db.session.add(Person(
                    department_id=rng.choice(departments[suffix]).id if post_level is None
                    else departments[suffix][len(posts) % len(departments[suffix])].id,
                    midlevel_post=post_level,
                    code=f"{prefix}{serial:05d}", name=rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice([1, 2]))),
                    id_number=idnumber.make(region, birth, rng.randint(100, 999)), sex="", birth_date=birth,
                    unit_id=unit.id, work_unit_id=unit.id, category=category, status="on_roll",
                    entry_date=min(entry, date(2025, 12, 31)), education=rng.choice(EDUCATION),
                    post=rng.choice(POSTS), details={"ethnicity": "汉族"}))
    db.session.flush()
    return serial
