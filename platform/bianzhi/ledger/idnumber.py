"""Resident ID numbers (居民身份证号码), checked with python-stdnum's cn.ric.

Decision on region codes: cn.ric also looks the first six digits up in its own table, which
lags behind new districts (e.g. 330603 Keqiao, created 2013). A valid checksum and birth date
with an unknown county but a known province is accepted; an unknown province is refused.
"""
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from .. import clock


class InvalidIdNumber(ValueError):
    pass


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: date
    sex: str  # 男 / 女


@lru_cache(maxsize=8192)
def _region_known(region, year):
    """A county cn.ric knows (in that birth year), or else a known province. Cached: the numdb
    look-ups are most of the time of checking a number (a roster import checks thousands)."""
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000")
    except InvalidComponent:
        province = numdb.get("cn/loc").info(region[:2] + "0000")
        return any(props for _part, props in province)
    return True


def parse(value):
    """Return IdInfo for a valid number, or raise InvalidIdNumber with a Chinese reason."""
    number = ric.compact(str(value or "")).upper()
    try:
        if len(number) != 18:
            raise InvalidLength()
        if not number[:-1].isdigit():
            raise InvalidFormat()
        if number[-1] != ric.calc_check_digit(number):
            raise InvalidChecksum()
        birth = ric.get_birth_date(number)
    except InvalidLength:
        raise InvalidIdNumber("身份证号应为18位") from None
    except InvalidChecksum:
        raise InvalidIdNumber("身份证号校验位不正确") from None
    except (InvalidFormat, InvalidComponent):
        raise InvalidIdNumber("身份证号格式不正确（出生日期无效或含非法字符）") from None
    if not _region_known(number[:6], birth.year):
        raise InvalidIdNumber("身份证号的地区码不存在")
    if birth > clock.today():
        raise InvalidIdNumber("身份证号中的出生日期晚于今天")
    sex = "男" if int(number[16]) % 2 == 1 else "女"
    return IdInfo(number, birth, sex)


def make(region, birth, sequence):
    """Build a valid number (demo data and tests): region '330621', birth date, 3-digit sequence."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")
