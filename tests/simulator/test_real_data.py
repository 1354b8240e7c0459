"""The named intraday profile comes from real data: the Taobao UserBehavior sample."""

import numpy as np
import pandas as pd

from simulator.model import TAOBAO_2017
from tests.conftest import SHARED_DATA, need_outside


def test_taobao_2017_profile_is_the_hourly_page_view_shape_of_the_public_sample():
    path = need_outside(SHARED_DATA / "taobao_userbehavior_sample.csv", "Taobao UserBehavior sample")
    d = pd.read_csv(path)
    t = pd.to_datetime(d["timestamp"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    keep = (t >= "2017-11-25") & (t < "2017-12-04") & (d["behavior"] == "pv")
    hours = np.bincount(t[keep].dt.hour, minlength=24)
    shape = hours / hours.mean()
    # the constant is the data rounded to 3 decimals
    np.testing.assert_allclose(TAOBAO_2017, shape, atol=5e-4)
    # the evening peak (20:00–23:00) is over ten times the small hours (03:00–06:00)
    assert shape[20:23].mean() > 10 * shape[3:6].mean()
