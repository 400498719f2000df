"""Synthetic but valid Chinese identifiers and names, generated in bulk.

Every identifier made here passes the validators of :mod:`anyuan.core.identifiers`:
ID numbers carry a real region code, a real date of birth and the GB 11643 check digit;
credit codes embed a GB 11714 organisation code with its check character and end with
the GB 32100 check character; plates follow GA 36; phones are mainland mobiles.
"""

import datetime as dt

import numpy as np

from anyuan.core.identifiers import id_check_digit, org_code_check_char, uscc_check_char

# County-level region codes (GB/T 2260) of the places park workers typically come from.
HOME_REGIONS = (
    "440303", "440304", "440306", "440307", "440309", "441302", "441322", "445202", "445222",
    "445224", "441581", "440882", "441481", "440513", "430124", "430582", "431121", "430623",
    "431022", "430922", "421121", "421122", "421125", "421126", "421127", "420222", "420982",
    "411302", "411323", "412702", "411522", "411421", "510116", "511321", "510922", "511623",
    "511304", "360722", "360731", "360302", "450821", "450981", "451002", "520221", "520322",
    "330206", "330212", "330282", "330482", "330402", "330421", "330326", "341221", "341222",
    "340321", "341322", "500101", "500235", "530321", "610528",
)  # fmt: skip

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
# rough frequency: the first surnames are far more common
_SURNAME_P = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.8
_SURNAME_P /= _SURNAME_P.sum()
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建文志国海东峰亮成兵"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀燕玲桂丹萍红琴云莉兰凤洁梅琳素慧颖倩婷雪晶佳欣怡月悦露瑶璐"
GIVEN_ANY = "晓小春秋子思嘉梓雨一文佳家永金玉德海天新振俊乐安"

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
ALNUM_PLATE = "0123456789" + PLATE_LETTERS
ORG_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def names(rng: np.random.Generator, male: np.ndarray) -> list[str]:
    """Chinese names, one per entry of ``male`` (a boolean array)."""
    n = len(male)
    sur = rng.choice(len(SURNAMES), size=n, p=_SURNAME_P)
    two = rng.random(n) < 0.7
    g1 = rng.integers(0, 1 << 30, size=n)
    g2 = rng.integers(0, 1 << 30, size=n)
    first = rng.random(n) < 0.3
    out = []
    for i in range(n):
        pool = GIVEN_MALE if male[i] else GIVEN_FEMALE
        a = (GIVEN_ANY if first[i] else pool)[g1[i] % len(GIVEN_ANY if first[i] else pool)]
        given = a + pool[g2[i] % len(pool)] if two[i] else pool[g2[i] % len(pool)]
        out.append(SURNAMES[sur[i]] + given)
    return out


def id_numbers(
    rng: np.random.Generator,
    n: int,
    born_from: dt.date,
    born_until: dt.date,
    regions: tuple[str, ...] = tuple(HOME_REGIONS),
    taken: set[str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """``n`` distinct GB 11643 ID numbers (none in ``taken``, which is updated) and
    whether each holder is male (odd 17th digit)."""
    taken = taken if taken is not None else set()
    out: list[str] = []
    male_out: list[bool] = []
    span = (born_until - born_from).days
    ordinal0 = born_from.toordinal()
    need = n
    while need:
        region = rng.integers(0, len(regions), size=need)
        days = rng.integers(0, span + 1, size=need)
        seq = rng.integers(0, 1000, size=need)
        for r, d, s in zip(region, days, seq, strict=True):
            born = dt.date.fromordinal(ordinal0 + int(d))
            first17 = f"{regions[r]}{born:%Y%m%d}{int(s):03d}"
            value = first17 + id_check_digit(first17)
            if value in taken:
                continue
            taken.add(value)
            out.append(value)
            male_out.append(int(s) % 2 == 1)
        need = n - len(out)
    return out, np.array(male_out, dtype=bool)


def credit_codes(
    rng: np.random.Generator, n: int, region: str, taken: set[str] | None = None
) -> list[str]:
    """``n`` distinct unified social credit codes of enterprises registered in ``region``."""
    taken = taken if taken is not None else set()
    out = []
    while len(out) < n:
        body = "MA" + "".join(ORG_BODY_CHARS[i] for i in rng.integers(0, len(ORG_BODY_CHARS), 6))
        first17 = f"91{region}{body}{org_code_check_char(body)}"
        code = first17 + uscc_check_char(first17)
        if code not in taken:
            taken.add(code)
            out.append(code)
    return out


def phones(rng: np.random.Generator, n: int) -> list[str]:
    pre = rng.integers(0, len(MOBILE_PREFIXES), size=n)
    rest = rng.integers(0, 100_000_000, size=n)
    return [f"{MOBILE_PREFIXES[p]}{r:08d}" for p, r in zip(pre, rest, strict=True)]


def plates(
    rng: np.random.Generator,
    n: int,
    prefixes: tuple[str, ...],
    taken: set[str],
    new_energy_share: float = 0.0,
) -> list[str]:
    """Distinct plates such as 粤B3K721 or, for new-energy cars, 粤BD12345."""
    out = []
    while len(out) < n:
        prefix = prefixes[int(rng.integers(0, len(prefixes)))]
        if rng.random() < new_energy_share:
            third = "DF"[int(rng.integers(0, 2))]
            fourth = ALNUM_PLATE[int(rng.integers(0, len(ALNUM_PLATE)))]
            plate = f"{prefix}{third}{fourth}{int(rng.integers(0, 10000)):04d}"
        else:
            letters = rng.random(5) < 0.15
            chars = [
                PLATE_LETTERS[int(rng.integers(0, len(PLATE_LETTERS)))]
                if is_letter
                else str(int(rng.integers(0, 10)))
                for is_letter in letters
            ]
            plate = prefix + "".join(chars)
        if plate not in taken:
            taken.add(plate)
            out.append(plate)
    return out


def ebike_plates(rng: np.random.Generator, n: int, city: str, taken: set[str]) -> list[str]:
    """Local e-bike plates (city name, a letter and five digits, e.g. 深圳A30512)."""
    out = []
    while len(out) < n:
        letters = rng.integers(0, len(PLATE_LETTERS), size=n - len(out))
        numbers = rng.integers(0, 100_000, size=n - len(out))
        for a, b in zip(letters, numbers, strict=True):
            plate = f"{city}{PLATE_LETTERS[a]}{b:05d}"
            if plate not in taken:
                taken.add(plate)
                out.append(plate)
    return out


def face_ids(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """Face match ids as a face platform hands them out: ``F`` and 16 hex digits."""
    out = []
    while len(out) < n:
        for v in rng.integers(0, 1 << 63, size=n - len(out), dtype=np.int64):
            f = f"F{int(v):016X}"
            if f not in taken:
                taken.add(f)
                out.append(f)
    return out


def card_numbers(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    """Ten-digit card numbers (the decimal form of a Mifare card's serial)."""
    out = []
    while len(out) < n:
        for v in rng.integers(1_000_000_000, 4_294_967_295, size=n - len(out), dtype=np.int64):
            c = str(int(v))
            if c not in taken:
                taken.add(c)
                out.append(c)
    return out
