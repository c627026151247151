"""Probe of the import path: N contacts from a CSV into a fresh database, rate and peak memory.

    .venv/bin/python bench/_import_probe.py --rows 1000000            # SQLite in a temporary directory
    DATABASE_URL=postgres://... .venv/bin/python bench/_import_probe.py --rows 200000

Mixed Chinese and English names, mobile and landline numbers, emails, 1 in 5 rows naming one of
N/5 companies (so accounts are found or created), tags, an owner column; 1% of rows bad. Prints
rows/s of the job (validated, normalised, deduplicated, indexed) and the peak RSS of the process
and of its worker processes. Not part of ``make bench`` (files starting with _ are not run).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
    "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国志成斌宇浩凯健俊帆帅旭宁"
EN_GIVEN = ["John", "Mary", "David", "Linda", "James", "Susan", "Robert", "Karen", "Michael", "Lisa", "Peter", "Anna"]
EN_FAMILY = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Lewis", "Walker"]
PROVINCES = ["广东", "浙江", "江苏", "北京", "上海", "四川", "湖北", "山东", "福建", "河南"]
TITLES = ["采购经理", "总经理", "CTO", "财务总监", "销售", "工程师", "Purchasing Manager", ""]
HEADER = ["外部编号", "姓名", "手机", "电话", "邮箱", "公司", "职位", "部门", "省份", "城市", "生日", "负责人", "标签"]


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    companies = max(1, rows // 5)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            if rng.random() < 0.8:
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            else:
                name = f"{rng.choice(EN_GIVEN)} {rng.choice(EN_FAMILY)}"
            mobile = f"1{rng.choice(('38', '39', '50', '58', '86', '89'))}{rng.randrange(10**8):08d}"
            phone = f"021-6{rng.randrange(10**7):07d}" if rng.random() < 0.1 else ""
            email = f"u{i}@{rng.choice(['example.com', 'qq.com', '163.com', 'corp.cn'])}"
            company = f"示例公司{rng.randrange(companies)}" if rng.random() < 0.2 else ""
            birthday = f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            row = [f"P{i:08d}", name, mobile, phone, email, company, rng.choice(TITLES), "", rng.choice(PROVINCES),
                   "", birthday if rng.random() < 0.3 else "", "", "展会" if rng.random() < 0.1 else ""]  # fmt: skip
            if rng.random() < 0.01:
                row[2] = "12345"  # bad phone
            writer.writerow(row)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--detect", action="store_true", help="also run the follow-up duplicate detection, timed")
    parser.add_argument("--profile", type=int, default=0, help="print the N functions with the most own time")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gx-import-probe-"))
    os.environ.setdefault("GUANXI_DATA_DIR", str(workdir))
    os.environ["GUANXI_MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    os.environ.setdefault("GUANXI_DEBUG", "0")  # as a production worker runs (DEBUG logs every query)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # Migrations in a child process: the peak RSS printed below is then what a job worker (which
    # never migrates) holds, not the migration framework's model states.
    import subprocess

    from django.core.files import File
    from django.db import connection

    from guanxi.core.imports.services import import_create, import_start
    from guanxi.core.jobs import job_run
    from guanxi.customers.models import Contact
    from guanxi.identity.models import User

    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--verbosity", "0"], check=True, cwd=ROOT)
    user = User.objects.filter(email="probe@example.com").first() or User.objects.create_superuser(
        email="probe@example.com", password="Probe-Passw0rd!", display_name="Probe"
    )
    source = workdir / "contacts.csv"
    started = time.perf_counter()
    generate(source, args.rows)
    print(f"generated {args.rows} rows ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f}s")
    before = Contact.all_objects.count()
    print(f"RSS before the job (Django, migrations, pinyin and phone data loaded): {peak_rss_mb()[0]:.0f} MB")
    started = time.perf_counter()
    with source.open("rb") as handle:
        job = import_create(user=user, upload=File(handle, name="contacts.csv"), type_name="contacts")
    job = import_start(job=job, user=user, enqueue=False)
    prepared = time.perf_counter() - started
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    job = job_run(job.pk)
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
    own, children = peak_rss_mb()
    created = Contact.all_objects.count() - before
    print(f"engine {connection.vendor}; upload+detect+count {prepared:.1f}s; job {job.status} {job.error}")
    print(f"result {job.result}")
    print(
        f"import: {args.rows} rows in {elapsed:.1f}s = {args.rows / elapsed:,.0f} rows/s ({created} contacts created)"
    )
    print(f"CPU of this process: {cpu:.1f}s = {args.rows / cpu:,.0f} rows per CPU second (steady on a busy machine)")
    print(f"peak RSS: main {own:.0f} MB, largest worker {children:.0f} MB")
    from guanxi.core.imports.bulk import last_timing

    for stage, seconds in last_timing.items():
        print(f"  {stage:<34} {seconds:7.1f}s  {seconds * 1e6 / args.rows:6.1f} µs/row")
    if args.detect:
        # The follow-up the import enqueues: the fuzzy duplicate detection over the ids it wrote.
        from guanxi.customers.duplicates import duplicates_detect_ranges

        detect = (job.checkpoint or {}).get("detect") or {}
        started = time.perf_counter()
        queued = duplicates_detect_ranges.call(detect)
        took = time.perf_counter() - started
        print(f"follow-up duplicate detection: {took:.1f}s = {args.rows / took:,.0f} rows/s, {queued} pairs queued")
        print(f"peak RSS after detection: main {peak_rss_mb()[0]:.0f} MB")
    if not args.keep and "GUANXI_DATA_DIR" not in os.environ.get("GX_KEEP", ""):
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
