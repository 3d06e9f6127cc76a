"""Statutory retirement age under the gradual rule in force from 2025-01-01 (渐进式延迟法定退休年龄).

The one place that knows it (DESIGN.md, "Retirement age"):
- men, original age 60, and women cadres, original 55: one month later for every four months,
  up to three years (63 and 58);
- women workers, original 50: one month later for every two months, up to five years (55).
Delay = ceil(n / 4) months (cap 36), or ceil(n / 2) (cap 60), where n counts the months from
2025-01 (n = 1) to the month the person would have retired under the old rule; nobody whose
old retirement month is before 2025-01 is delayed.
Worked example: a man born in 1965-01 would have retired in 2025-01 (n = 1), so his delay is
one month: he retires at 60 years 1 month, in 2025-02.

Who is a "worker" (工人) among women: staff on 工勤编制, or whose post category (岗位类别) is 工勤.
"""
import calendar
import math
from functools import cached_property, lru_cache
from dataclasses import dataclass
from datetime import date

START = 2025 * 12  # month index of 2025-01 (year * 12 + month - 1)

# group -> (original age in years, months of birth per month of delay, cap in months)
RULES = {
    "male": (60, 4, 36),
    "female_cadre": (55, 4, 36),
    "female_worker": (50, 2, 60),
}
GROUP_LABELS = {"male": "男职工", "female_cadre": "女干部（原 55 岁）", "female_worker": "女工人（原 50 岁）"}


@dataclass(frozen=True)
class Retirement:
    group: str
    original_age: int
    delay_months: int
    year: int  # the month the person retires in
    month: int
    birth_date: date

    @property
    def age_years(self):
        return self.original_age + self.delay_months // 12

    @property
    def age_months(self):
        return self.delay_months % 12

    @property
    def age_label(self):
        return f"{self.age_years} 岁" + (f" {self.age_months} 个月" if self.age_months else "")

    @property
    def month_label(self):
        return f"{self.year}-{self.month:02d}"

    @cached_property  # the instances are shared (retirement() is cached), so once per birth date
    def date(self):
        """The day the person reaches the retirement age (their birthday's day in the retirement
        month, or that month's last day)."""
        day = self.birth_date.day
        while True:
            try:
                return date(self.year, self.month, day)
            except ValueError:
                day -= 1


def group_of(sex, category=None, post_type=None):
    """male, female_cadre or female_worker, from a person's sex (男/女), establishment category
    and post category (岗位类别)."""
    if sex == "男":
        return "male"
    if sex != "女":
        raise ValueError(f"性别应为男或女：{sex!r}")
    return "female_worker" if category == "工勤编制" or post_type == "工勤" else "female_cadre"


def _index(year, month):
    return year * 12 + month - 1


@lru_cache(maxsize=1 << 16)
def retirement(birth_date, group):
    """When someone born on `birth_date` in `group` (see group_of) retires. Pure and its answer
    frozen, so cached: the 自然减员 list asks it for tens of thousands of people who share a few
    thousand birth dates."""
    original_age, per, cap = RULES[group]
    original = _index(birth_date.year, birth_date.month) + original_age * 12
    n = original - START + 1
    delay = min(math.ceil(n / per), cap) if n > 0 else 0
    year, month0 = divmod(original + delay, 12)
    return Retirement(group, original_age, delay, year, month0 + 1, birth_date)


def of_person(person):
    """The retirement of a ledger Person (sex and category are columns; the post category
    lives in the person's details)."""
    details = person.details or {}
    return retirement(person.birth_date, group_of(person.sex, person.category, details.get("post_type")))


def months_until(ret, today):
    """Whole months from `today`'s month to the retirement month (0: retires this month;
    negative: already past)."""
    return _index(ret.year, ret.month) - _index(today.year, today.month)


def birth_ranges(today, months_ahead):
    """group -> (first, last) birth dates of the people of that group who retire from `today`'s
    month to `months_ahead` months later. The retirement month never goes back as the birth
    month goes forward, so each group's births form one range, and a query can ask the database
    for just those people (a few per cent of the roll) instead of computing everyone's date."""
    first, last = _index(today.year, today.month), _index(today.year, today.month) + months_ahead
    ranges = {}
    for group, (original_age, _per, cap) in RULES.items():
        births = []
        for born in range(first - original_age * 12 - cap - 1, last - original_age * 12 + 1):
            year, month0 = divmod(born, 12)
            ret = retirement(date(year, month0 + 1, 1), group)
            if first <= _index(ret.year, ret.month) <= last:
                births.append(born)
        if births:
            lo_year, lo_month0 = divmod(births[0], 12)
            hi_year, hi_month0 = divmod(births[-1], 12)
            ranges[group] = (date(lo_year, lo_month0 + 1, 1),
                             date(hi_year, hi_month0 + 1, calendar.monthrange(hi_year, hi_month0 + 1)[1]))
    return ranges


def latest_birth_date(today, months_ahead):
    """Nobody born after this date retires within `months_ahead` months of `today` (the
    youngest retirement age is 50), so a query need not read them."""
    year, month0 = divmod(_index(today.year, today.month) + months_ahead - 50 * 12, 12)
    return date(year, month0 + 1, calendar.monthrange(year, month0 + 1)[1])
