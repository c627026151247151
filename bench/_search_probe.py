"""Search speed at a million contacts, on a scratch database (never the test or the live one).

    .venv/bin/python bench/_search_probe.py --engine sqlite [--contacts 1000000] [--reuse]
    .venv/bin/python bench/_search_probe.py --engine postgresql [--contacts 1000000] [--reuse]

Fills 200 reps' worth of synthetic contacts (60% Chinese names, realistic emails and CN mobiles) and
accounts (one per five contacts) with bulk inserts, then:

1. indexes them with ``search_reindex`` in batches of 5,000 — the call the import makes per batch —
   and prints the rate;
2. times ``search`` (the function) and ``GET /api/v1/search`` (the whole Django stack, in-process)
   for names, pinyin, initials, emails, phone suffixes and companies, as an administrator and as a
   rep who owns 0.5% of the records, including common prefixes; p50 / p99 / max per kind.

SQLite: /tmp/guanxi-search-probe/probe.sqlite3. PostgreSQL: database ``guanxi_search_probe`` on
127.0.0.1 (``--pg-url`` to change). ``--reuse`` skips the fill when the data is there.
Files starting with "_" are not run by ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬飞建国鹏辉宇浩然子轩梓涵"
    "一诺欣怡晨阳思远佳琪雨桐文博"
)
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Chris",
    "Nancy",
    "Daniel",
    "Lisa",
    "Paul",
    "Betty",
    "Mark",
    "Helen",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
]
DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com", "example.com")
CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "成都",
    "武汉",
    "西安",
    "苏州",
    "天津",
    "重庆",
    "长沙",
    "郑州",
    "青岛",
    "宁波",
    "厦门",
    "合肥",
    "福州",
    "济南",
]
TRADES = [
    "科技",
    "贸易",
    "电子",
    "机械",
    "网络",
    "信息",
    "医药",
    "物流",
    "建筑",
    "食品",
    "化工",
    "软件",
    "文化",
    "传媒",
    "教育",
    "咨询",
    "能源",
    "汽车",
    "服装",
    "家居",
]
WORDS = [
    "华",
    "盛",
    "达",
    "鑫",
    "恒",
    "泰",
    "宏",
    "远",
    "创",
    "新",
    "兴",
    "源",
    "博",
    "瑞",
    "祥",
    "康",
    "安",
    "金",
    "龙",
    "海",
    "天",
    "星",
    "光",
    "明",
    "东",
    "方",
    "中",
    "联",
    "通",
    "信",
    "捷",
    "迅",
]
EN_CO = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Massive",
    "Dynamic",
]

REPS = 200
PER_ACCOUNT = 5


def configure(engine: str, pg_url: str) -> None:
    if engine == "sqlite":
        folder = Path("/tmp/guanxi-search-probe")
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'probe.sqlite3'}"
        os.environ["GUANXI_DATA_DIR"] = str(folder)
    else:
        os.environ["DATABASE_URL"] = pg_url
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("GUANXI_TESTING", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "guanxi.settings"
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]


def ensure_database(engine: str, pg_url: str) -> None:
    if engine != "postgresql":
        return
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def chinese_name(rng: random.Random) -> tuple[str, str, str]:
    family = rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return family, given, family + given


def fill(contacts: int, rng: random.Random) -> None:
    from django.db import connection, transaction

    from guanxi.core.search.text import name_tokens
    from guanxi.customers.models import Account, AccountContact, Contact
    from guanxi.identity.models import Role, RolePermission, User

    role, _ = Role.objects.get_or_create(name="Probe rep")
    for action in ("view", "add", "change", "delete"):
        RolePermission.objects.update_or_create(role=role, object_type="*", action=action, defaults={"scope": "own"})
    reps = []
    for i in range(REPS):
        user, _ = User.objects.get_or_create(email=f"rep{i}@probe.example", defaults={"display_name": f"Rep {i}"})
        user.role = role
        user.save()
        reps.append(user.pk)
    admin, _ = User.objects.get_or_create(email="admin@probe.example", defaults={"display_name": "Probe admin"})
    admin.is_superuser = True
    admin.save()

    n_accounts = contacts // PER_ACCOUNT
    started = time.perf_counter()
    batch = 20000
    with transaction.atomic():
        objs = []
        for i in range(n_accounts):
            if rng.random() < 0.8:
                name = rng.choice(CITIES) + "".join(rng.sample(WORDS, 2)) + rng.choice(TRADES) + "有限公司"
            else:
                name = f"{rng.choice(EN_CO)} {rng.choice(('Trading', 'Tech', 'Holdings', 'Labs'))} {i % 997}"
            objs.append(Account(name=name, owner_id=reps[i % REPS]))
            if len(objs) == batch:
                Account.objects.bulk_create(objs)
                objs = []
        Account.objects.bulk_create(objs)
    account_ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    print(f"accounts: {len(account_ids):,} in {time.perf_counter() - started:.1f}s", flush=True)

    started = time.perf_counter()
    done = 0
    while done < contacts:
        size = min(batch, contacts - done)
        objs = []
        for j in range(size):
            i = done + j
            if rng.random() < 0.6:
                family, given, display = chinese_name(rng)
                spelled = name_tokens(display, person=True)[0]
                local = (spelled[1] if len(spelled) > 1 else "user") + str(rng.randint(1, 9999))
            else:
                family, given = rng.choice(LAST), rng.choice(FIRST)
                display = f"{given} {family}"
                local = f"{given}.{family}{rng.randint(1, 999)}".lower()
            phone = f"+861{rng.choice('3456789')}{rng.randint(0, 999999999):09d}"
            objs.append(
                Contact(
                    family_name=family,
                    given_name=given,
                    display_name=display,
                    emails=[{"value": f"{local}@{rng.choice(DOMAINS)}", "label": "work", "is_primary": True}],
                    phones=[{"value": phone, "extension": "", "label": "mobile", "is_primary": True}],
                    owner_id=reps[i % REPS],
                )
            )
        with transaction.atomic():
            created = Contact.objects.bulk_create(objs)
            if connection.vendor == "sqlite":  # bulk_create on SQLite returns ids too (RETURNING), but be sure
                pass
            links = [
                AccountContact(
                    contact_id=c.pk,
                    account_id=account_ids[(done + k) // PER_ACCOUNT % len(account_ids)],
                    is_primary=True,
                )
                for k, c in enumerate(created)
            ]
            AccountContact.objects.bulk_create(links)
        done += size
        if done % 200000 == 0 or done == contacts:
            print(f"contacts: {done:,} ({done / (time.perf_counter() - started):,.0f}/s)", flush=True)


def recreate_index() -> None:
    """Drop and create the index table with the DDL of the current migration (after changing it)."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("guanxi.core.migrations.0005_search")
    drop = {"sqlite": migration.SQLITE_DROP, "postgresql": migration.POSTGRESQL_DROP}[connection.vendor]
    create = {"sqlite": migration.SQLITE, "postgresql": migration.POSTGRESQL}[connection.vendor]
    with connection.cursor() as cursor:
        for statement in [*drop, *create]:
            cursor.execute(statement)


def index_all() -> None:
    from django.db import connection

    from guanxi.core.search import search_reindex, search_type_for
    from guanxi.core.search.backends import backend
    from guanxi.customers.models import Account, Contact

    for model in (Account, Contact):
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        search_type = search_type_for(model)
        assert search_type is not None, f"{model.__name__} is not a registered search type"
        build = search_type.build
        started = time.perf_counter()
        for start in range(0, min(len(ids), 100_000), 5000):
            [d.columns() for d in build(ids[start : start + 5000]).values()]
        sample = min(len(ids), 100_000)
        seconds = time.perf_counter() - started
        print(f"  build only (read + tokens), {model._meta.model_name}: {sample / seconds:,.0f} rows/s", flush=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, len(ids), 5000):
            search_reindex(model, ids[start : start + 5000], cascade=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(
            f"index {model._meta.model_name}: {len(ids):,} in {seconds:.1f}s = {len(ids) / seconds:,.0f} rows/s "
            f"(this process's cpu {cpu:.1f}s = {len(ids) / cpu:,.0f} rows/cpu-s) "
            f"(search_reindex, batches of 5,000, {connection.vendor})",
            flush=True,
        )
    backend().optimize()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def probe(runs: int, rng: random.Random) -> None:
    from django.test import Client

    from guanxi.core.search import search
    from guanxi.core.search.text import name_tokens
    from guanxi.customers.models import Account, Contact
    from guanxi.identity.models import User

    admin = User.objects.get(email="admin@probe.example")
    rep = User.objects.get(email="rep7@probe.example")
    sample = list(
        Contact.objects.filter(
            pk__in=[
                rng.randint(1, Contact.objects.order_by("-pk").values_list("pk", flat=True)[0]) for _ in range(runs * 2)
            ]
        ).values_list("display_name", "emails", "phones", "owner_id")[:runs]
    )
    own = list(Contact.objects.filter(owner=rep).values_list("display_name", "emails", "phones")[:runs])
    companies = list(
        Account.objects.filter(pk__in=[rng.randint(1, 200000) for _ in range(runs)]).values_list("name", flat=True)
    )

    def pinyin(name: str) -> str:
        keys = name_tokens(name, person=True)[0]
        return keys[1] if len(keys) > 1 else keys[0]

    def initials(name: str) -> str:
        keys = name_tokens(name, person=True)[0]
        return keys[2] if len(keys) > 2 else keys[0]

    kinds = {
        "name": [s[0] for s in sample],
        "pinyin": [pinyin(s[0]) for s in sample],
        "initials": [initials(s[0]) for s in sample],
        "email": [s[1][0]["value"] for s in sample],
        "phone last 4": [s[2][0]["value"][-4:] for s in sample],
        "phone full": [s[2][0]["value"][3:] for s in sample],
        "company": [c[2:6] for c in companies],
        "common prefix": ["zh", "张", "wang", "li", "13", "gmail", "科技", "ch"] * (runs // 8 + 1),
    }
    rep_kinds = {
        "name (own)": [s[0] for s in own],
        "pinyin (own)": [pinyin(s[0]) for s in own],
        "phone last 4 (own)": [s[2][0]["value"][-4:] for s in own],
        "common prefix": kinds["common prefix"],
        "others' names": kinds["name"],
    }
    api_admin = Client()
    api_admin.force_login(admin)
    api_rep = Client()
    api_rep.force_login(rep)

    def run(label: str, user: object, client: Client, queries: list[str]) -> None:
        queries = queries[:runs]
        search(user, queries[0])  # warm
        times, api_times, cpu, hits = [], [], [], 0
        for q in queries:
            started, cpu_started = time.perf_counter(), time.process_time()
            found = search(user, q)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
            hits += bool(found)
            started = time.perf_counter()
            response = client.get("/api/v1/search", {"q": q})
            api_times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:200]
        print(
            f"  {label:<22} n={len(queries):<4} found {hits / len(queries):>4.0%}  "
            f"search() p50 {statistics.median(times):6.1f} p99 {percentile(times, 99):6.1f} max {max(times):6.1f} ms "
            f"(cpu p50 {statistics.median(cpu):5.1f} p99 {percentile(cpu, 99):5.1f})  "
            f"GET /api/v1/search p50 {statistics.median(api_times):6.1f} p99 {percentile(api_times, 99):6.1f} ms",
            flush=True,
        )

    print("administrator (sees everything):")
    for label, queries in kinds.items():
        run(label, admin, api_admin, queries)
    print(f"rep (owns {Contact.objects.filter(owner=rep).count():,} of {Contact.objects.count():,} contacts):")
    for label, queries in rep_kinds.items():
        run(label, rep, api_rep, queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep the data of an earlier run")
    parser.add_argument("--reindex", action="store_true", help="with --reuse: rebuild the index anyway")
    parser.add_argument("--fill-only", action="store_true", help="fill the scratch database, index nothing")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/guanxi_search_probe")
    args = parser.parse_args()
    ensure_database(args.engine, args.pg_url)
    configure(args.engine, args.pg_url)
    from django.core.management import call_command

    from guanxi.customers.models import Contact

    call_command("migrate", verbosity=0)
    rng = random.Random(20261202)
    existing = Contact.objects.count()
    if not (args.reuse and existing >= args.contacts):
        if existing:
            sys.exit("the scratch database has data: run with --reuse, or delete it first")
        fill(args.contacts, rng)
        if args.fill_only:
            return
        index_all()
    elif args.reindex:
        recreate_index()
        index_all()
    probe(args.runs, rng)


if __name__ == "__main__":
    main()
