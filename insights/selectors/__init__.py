"""What managers see (product.md section 5): page-shaped reads for the four dashboards and the
person page, one module each, with each figure's definition beside its code:

- `scorecards`: the performance dashboard, one scorecard per rep and pre-sales consultant, and
  who a figure belongs to;
- `month_by_month`: the same figures month by month (the performance dashboard's and the person
  page's trends);
- `person`: one person's page;
- `ownership`: the reassignment dashboard (accounts per owner, orphans, single-threaded
  customers, ownership changes);
- `early_life`: the early-life risk dashboard and its score;
- `delivery_board`: the delivery dashboard (handovers waiting, projects by stage, problems by
  category);
- `shared`: the period, the team filter and names, which they all use.

Every selector takes the period, the team filter and the viewer, and returns plain data
(dataclasses) computed with a fixed number of aggregate queries, whatever the data's size.
The names below are the ones the views, the API and the snapshots use.
"""

from core.counting import COUNT_CAP
from insights.selectors.delivery_board import CategoryRow, DeliveryBoard, StageRow, WaitingHandover, delivery
from insights.selectors.early_life import (
    EARLY_LIFE_DAYS,
    OVERDUE_CHECKUP_POINTS,
    PROBLEM_POINTS,
    SATISFACTION_POINTS,
    SIGNOFF_WAIT_POINTS,
    SINGLE_THREAD_POINTS,
    Risk,
    RiskInputs,
    RiskReason,
    RiskRow,
    early_life_score,
    last_satisfaction,
    risk,
)
from insights.selectors.month_by_month import TREND_MONTHS, MonthPoint, trends
from insights.selectors.ownership import (
    CUSTOMER_LIFECYCLES,
    AccountRow,
    ChangeRow,
    OwnerRow,
    Reassignment,
    reassignment,
    single_threaded,
)
from insights.selectors.person import PersonPage, person_page
from insights.selectors.scorecards import (
    DAY30_OFFSET,
    ON_TIME_HOURS,
    Performance,
    Scorecard,
    day30_touchpoints,
    performance,
)
from insights.selectors.shared import LIST_LIMIT, Period, display_name, team_choices, team_member_ids

__all__ = [
    "COUNT_CAP", "CUSTOMER_LIFECYCLES", "DAY30_OFFSET", "EARLY_LIFE_DAYS", "LIST_LIMIT", "ON_TIME_HOURS",
    "OVERDUE_CHECKUP_POINTS", "PROBLEM_POINTS", "SATISFACTION_POINTS", "SIGNOFF_WAIT_POINTS",
    "SINGLE_THREAD_POINTS", "TREND_MONTHS", "AccountRow", "CategoryRow", "ChangeRow", "DeliveryBoard",
    "MonthPoint", "OwnerRow", "Performance", "Period", "PersonPage", "Reassignment", "Risk", "RiskInputs",
    "RiskReason", "RiskRow", "Scorecard", "StageRow", "WaitingHandover", "day30_touchpoints", "delivery",
    "display_name", "early_life_score", "last_satisfaction", "performance", "person_page", "reassignment", "risk",
    "single_threaded", "team_choices", "team_member_ids", "trends",
]
