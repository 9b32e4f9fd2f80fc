"""stages/src/regions.rs's table is botocore's endpoint data for MediaConvert, every
partition: a region AWS adds (or drops) makes this test fail until the table follows."""
import re
from pathlib import Path

import botocore.session

TABLE = Path(__file__).resolve().parents[2] / "stages/src/regions.rs"


def test_mediaconvert_regions_are_botocores():
    text = TABLE.read_text(encoding="utf-8")
    body = re.search(r"MEDIACONVERT_REGIONS: &\[&str\] = &\[(.*?)\];", text, re.S).group(1)
    table = re.findall(r'"([a-z0-9-]+)"', body)
    session = botocore.session.get_session()
    known = {r for p in session.get_available_partitions() for r in session.get_available_regions("mediaconvert", p)}
    assert table == sorted(table), "keep the table sorted"
    assert set(table) == known, f"missing {sorted(known - set(table))}, not offered {sorted(set(table) - known)}"
