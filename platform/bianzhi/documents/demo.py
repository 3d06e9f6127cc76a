"""Demo documents: the 三定规定 of two units and the 批复 that set up each demo unit."""
from datetime import date

from sqlalchemy import select

from ..ledger.models import Establishment, Unit
from ..extensions import db
from .operations import register

SANDING = [
    # (unit code, number, title, issued_on, issuer, body): two units of 柯桥区
    ("12330621B01000000X", "柯编〔2019〕8号", "绍兴市柯桥区疾病预防控制中心主要职责、内设机构和人员编制规定", date(2019, 6, 18),
     "中共绍兴市柯桥区委机构编制委员会办公室",
     "根据区委机构编制委员会决定，制定本规定。\n一、主要职责：承担全区疾病预防控制、突发公共卫生事件应急处置、"
     "健康教育与促进、卫生检验检测等工作。\n二、内设机构：办公室、业务一科、业务二科、质量管理科。\n"
     "三、人员编制：核定事业编制40名，其中主任1名、副主任2名；中层职数正职4名、副职4名。\n"
     "四、经费形式：财政全额拨款。"),
    ("12330621A04000000X", "柯委办发〔2019〕31号", "绍兴市柯桥区卫生健康局职能配置、内设机构和人员编制规定", date(2019, 3, 2),
     "中共绍兴市柯桥区委办公室 绍兴市柯桥区人民政府办公室",
     "第一条 根据机构改革方案，制定本规定。\n第二条 区卫生健康局是区政府工作部门，为正科级。\n"
     "第三条 主要职责：组织实施国民健康政策，统筹规划卫生健康资源配置，协调推进医药卫生体制改革，"
     "指导区疾病预防控制中心、区人民医院等单位业务工作。\n第四条 内设机构：办公室、综合科、政策法规科、财务审计科。\n"
     "第五条 区卫生健康局机关行政编制16名；局长1名，副局长2名。"),
]


# who approved the setting up of a unit in 2001, by the region in its code (柯桥区 was 绍兴县)
ISSUERS = {"330621": "绍兴县机构编制委员会", "330602": "绍兴市越城区机构编制委员会"}


def load_documents(user=None):
    """Register the demo's documents (no chronicle: the demo's ledger starts here)."""
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    for code, number, title, issued_on, issuer, body in SANDING:
        register(user, number, title, issued_on, kind="三定规定", unit_ids=[units[code].id], body_text=body,
                 issuer=issuer, record=False)
    for code in sorted(units):
        unit = units[code]
        if not unit.approval_doc:
            continue
        figures = "、".join(f"{e.category}{e.approved}名" for e in db.session.scalars(
            select(Establishment).where(Establishment.unit_id == unit.id).order_by(Establishment.id)))
        body = (f"经研究，同意设立{unit.name}，机构级别为{unit.level}，{unit.kind}，经费形式为{unit.funding}。"
                f"核定{figures}。请据此办理机构编制相关手续。")
        register(user, unit.approval_doc, f"关于同意设立{unit.name}的批复", unit.founded or date(2001, 6, 1),
                 kind="批复", unit_ids=[unit.id], body_text=body,
                 issuer=ISSUERS.get(unit.code[2:8], "机构编制委员会"), record=False)
    db.session.flush()
