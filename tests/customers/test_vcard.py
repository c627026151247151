"""vCard: a phone's address book imported as contacts, and a contact saved to a phone as a card.

The imports run the real job (tasks run at once in the tests) against the real database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import vobject
from django.test import Client

from guanxi.core.imports import vcard
from guanxi.core.imports.reading import detect_format, numbered_rows
from guanxi.core.imports.runner import _numbered_rows
from guanxi.core.models import Job, Tag
from guanxi.customers.models import Account, Contact
from tests.customers.test_import import job_client, read_errors, upload
from tests.factories import client_for, field_rule

pytestmark = pytest.mark.django_db

PHONE_BOOK = """BEGIN:VCARD
VERSION:3.0
N:张;伟;;;
FN:张伟
ORG:阿里巴巴（中国）有限公司;市场部
TITLE:市场经理
TEL;TYPE=CELL:+86 138 0013 8000
TEL;TYPE=WORK,VOICE:021-6234 5678 转 801
EMAIL;TYPE=INTERNET:ZhangWei@Example.com
EMAIL:zw@alibaba.example.com
ADR;TYPE=HOME:;;家庭住址;北京;北京市;100000;中国
ADR;TYPE=WORK:;;文一西路969号;杭州市;浙江省;311121;中国
BDAY:1985-03-12
NOTE:展会认识\\n第二行
NICKNAME:老张
URL:https://zhangwei.example.com
X-WECHAT:zhangwei85
CATEGORIES:VIP,展会
UID:iphone-0001
END:VCARD
BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E6=9D=8E;=E5=A8=9C;;;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E6=9D=8E=E5=A8=9C
TEL;CELL:13900139000
TEL;HOME:010-88886666
BDAY:--0520
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:John Smith
N:Smith;John;;;
item1.EMAIL;type=INTERNET;type=pref:john@example.com
IMPP;X-SERVICE-TYPE=WeChat:weixin:johnsmith
BDAY;VALUE=date:1604-07-04
END:VCARD
"""


@pytest.fixture
def importer(admin: Any, django_capture_on_commit_callbacks: Any) -> Client:
    """A signed-in client whose requests run the import jobs they queue."""
    return job_client(admin, django_capture_on_commit_callbacks)


def write(tmp_path: Path, text: str | bytes, name: str = "contacts.vcf") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def file_errors(response: Any) -> list[str]:
    return [error["detail"] for error in response.json()["errors"] if error["field"] == "file"]


def cells_by_header(path: Path) -> list[dict[str, str]]:
    rows = list(numbered_rows(path, detect_format(path)))
    header = rows[0][1]
    return [dict(zip(header, row, strict=True)) for _number, row in rows[1:]]


# --- reading --------------------------------------------------------------------------------------------


def test_cards_become_rows_numbered_by_card(tmp_path: Path) -> None:
    path = write(tmp_path, PHONE_BOOK)
    fmt = detect_format(path)
    assert fmt.kind == "vcard" and fmt.encoding == "utf-8"
    assert [number for number, _row in numbered_rows(path, fmt)] == [0, 1, 2, 3]
    zhang, li, john = cells_by_header(path)
    assert zhang == {
        "External ID": "iphone-0001",
        "Family name": "张",
        "Given name": "伟",
        "Full name": "张伟",
        "Job title": "市场经理",
        "Department": "市场部",
        "Company": "阿里巴巴（中国）有限公司",
        "Email": "ZhangWei@Example.com; zw@alibaba.example.com",
        "Mobile": "+86 138 0013 8000",
        "Phone": "021-6234 5678 转 801",
        "WeChat ID": "zhangwei85",
        "Birthday": "1985-03-12",
        "Country": "中国",
        "Province / state": "浙江省",  # the work address wins over the home one
        "City": "杭州市",
        "Street address": "文一西路969号",
        "Postal code": "311121",
        # The note keeps its lines; what has no field of its own follows it, labelled.
        "Description": "\n".join(
            (
                "展会认识",
                "第二行",
                "Other address: 中国 北京市 北京 家庭住址 100000",  # the home address; the work one has the columns
                "Nickname: 老张",
                "Web page: https://zhangwei.example.com",
            )
        ),
        "Tags": "VIP, 展会",
    }
    # vCard 2.1 with quoted-printable UTF-8, as Android exports Chinese names; TEL;CELL is a mobile.
    assert (li["Family name"], li["Given name"], li["Mobile"], li["Phone"]) == (
        "李",
        "娜",
        "13900139000",
        "010-88886666",
    )
    # A birthday without its year has no date to go in: it is kept in the description.
    assert li["Birthday"] == "" and li["Description"] == "Birthday: 05-20"
    assert (john["WeChat ID"], john["Email"], john["Birthday"]) == ("johnsmith", "john@example.com", "")
    assert john["Description"] == "Birthday: 07-04"  # iOS writes an unknown year as 1604


def test_chinese_encodings_of_older_phones(tmp_path: Path) -> None:
    gbk_file = write(tmp_path, "BEGIN:VCARD\nVERSION:3.0\nN:赵;六;;;\nFN:赵六\nEND:VCARD\n".encode("gb18030"))
    assert detect_format(gbk_file).encoding == "gb18030"
    assert cells_by_header(gbk_file)[0]["Full name"] == "赵六"
    quoted = "".join(f"={b:02X}" for b in "王".encode("gbk")), "".join(f"={b:02X}" for b in "芳".encode("gbk"))
    qp_file = write(
        tmp_path,
        f"BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=GBK;ENCODING=QUOTED-PRINTABLE:{quoted[0]};{quoted[1]};;;\r\n"
        "TEL;CELL;PREF:13700137000\r\nEND:VCARD\r\n",
        "qp.vcf",
    )
    row = cells_by_header(qp_file)[0]
    assert (row["Family name"], row["Given name"], row["Mobile"]) == ("王", "芳", "13700137000")


def test_a_resumed_import_skips_cards_by_count(importer: Client, tmp_path: Path) -> None:
    body = upload(importer, PHONE_BOOK.encode(), "phone.vcf").json()
    job = Job.objects.get(pk=body["id"])
    assert job.params["header_line"] == 0 and job.total == 3
    assert [number for number, _row in _numbered_rows(job, 1)] == [2, 3]
    page = importer.get(f"/imports/{job.pk}/").content.decode()
    assert "3 cards (vCard) · utf-8" in page
    new = importer.get("/imports/new/contacts/").content.decode()
    assert 'accept=".csv,.txt,.tsv,.xlsx,.xlsm,.xls,.vcf,.vcard"' in new
    assert ".vcf" not in importer.get("/imports/new/accounts/").content.decode()


# --- importing ------------------------------------------------------------------------------------------


def test_a_phone_book_imports_as_contacts(importer: Client) -> None:
    body = upload(importer, PHONE_BOOK.encode(), "通讯录.vcf").json()
    assert body["mapping"]["Family name"] == "family_name" and body["mapping"]["Mobile"] == "mobile"
    assert body["mapping"]["Company"] == "company" and body["mapping"]["External ID"] == "external_id"
    started = importer.post(f"/api/v1/imports/{body['id']}/start", {}, content_type="application/json")
    assert started.status_code == 202, started.content
    result = importer.get(f"/api/v1/imports/{body['id']}").json()["result"]
    assert (result["created"], result["failed"]) == (3, 0), result

    zhang = Contact.objects.get(external_id="iphone-0001")
    assert (zhang.display_name, zhang.title, zhang.department, zhang.wechat_id) == (
        "张伟",
        "市场经理",
        "市场部",
        "zhangwei85",
    )
    assert [p["value"] for p in zhang.emails] == ["zhangwei@example.com", "zw@alibaba.example.com"]
    assert [(p["value"], p.get("extension", ""), p["label"]) for p in zhang.phones] == [
        ("+8613800138000", "", "mobile"),
        ("+862162345678", "801", "work"),
    ]
    assert (zhang.province, zhang.city, zhang.country, str(zhang.birthday)) == ("浙江省", "杭州市", "CN", "1985-03-12")
    assert list(zhang.accounts.values_list("name", flat=True)) == ["阿里巴巴（中国）有限公司"]
    assert set(Tag.objects.values_list("name", flat=True)) >= {"VIP", "展会"}
    li = Contact.objects.get(display_name="李娜")
    assert li.description == "Birthday: 05-20" and li.birthday is None
    assert Contact.objects.get(display_name="John Smith").wechat_id == "johnsmith"

    # The same file again adds nobody: by the card's UID, and by email or phone for cards without one.
    again = upload(importer, PHONE_BOOK.encode(), "通讯录.vcf", start="true").json()
    result = importer.get(f"/api/v1/imports/{again['id']}").json()["result"]
    assert (result["created"], result["skipped"]) == (0, 3) and Contact.objects.count() == 3


def test_a_bad_card_is_reported_by_its_number(importer: Client) -> None:
    cards = PHONE_BOOK.replace("john@example.com", "john(at)example")
    body = upload(importer, cards.encode(), "phone.vcf", start="true").json()
    result = importer.get(f"/api/v1/imports/{body['id']}").json()["result"]
    assert (result["created"], result["failed"]) == (2, 1), result
    errors = read_errors(importer, body["id"])
    assert errors[0][:4] == ["Row", "Column", "Value", "Reason"]
    assert errors[1][:3] == ["3", "Email", "john(at)example"]  # the third card
    assert not Contact.objects.filter(family_name="Smith").exists()


def test_a_card_that_cannot_be_read_is_a_bad_row(importer: Client) -> None:
    broken = PHONE_BOOK.replace("FN:张伟\n", "FN:张伟\nthis line is not a property\n")
    body = upload(importer, broken.encode(), "phone.vcf")
    assert body.status_code == 201 and body.json()["total"] == 3
    started = importer.post(f"/api/v1/imports/{body.json()['id']}/start", {}, content_type="application/json")
    assert started.status_code == 202
    result = importer.get(f"/api/v1/imports/{body.json()['id']}").json()["result"]
    assert (result["created"], result["failed"]) == (2, 1), result
    row, column, value, reason = read_errors(importer, body.json()["id"])[1][:4]
    assert (row, column) == ("1", "") and value.startswith("BEGIN:VCARD VERSION:3.0 N:张;伟;;; FN:张伟")
    assert reason.startswith("The card that begins on line 1 cannot be read:"), reason
    assert not Contact.objects.filter(family_name="张").exists()


def test_a_file_cut_short_is_refused(importer: Client) -> None:
    unclosed = upload(importer, PHONE_BOOK.encode() + b"BEGIN:VCARD\nVERSION:3.0\nFN:x\n", "open.vcf")
    assert unclosed.status_code == 400
    line = PHONE_BOOK.count("\n") + 1
    assert file_errors(unclosed) == [f"The card that begins on line {line} has no END:VCARD."]
    assert Contact.objects.count() == 0 and not Job.objects.exists()
    empty = upload(importer, "名片\r\n".encode(), "cards.vcf")
    assert empty.status_code == 400
    assert file_errors(empty) == ["The file holds no cards (BEGIN:VCARD … END:VCARD)."]


def test_cards_are_people_not_companies(importer: Client) -> None:
    response = importer.post(
        "/api/v1/imports",
        {"file": _file(PHONE_BOOK.encode(), "phone.vcf"), "type": "accounts"},
    )
    assert response.status_code == 400
    assert file_errors(response) == ["A vCard file holds people's cards: import it as contacts."]
    assert Account.objects.count() == 0


def _file(content: bytes, name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


# --- saving a contact to a phone ------------------------------------------------------------------------


@pytest.fixture
def zhang(make_contact: Any, make_account: Any) -> Contact:
    account = make_account(name="阿里巴巴（中国）有限公司")
    return make_contact(
        family_name="张",
        given_name="伟",
        title="市场经理",
        department="市场部",
        wechat_id="zhangwei85",
        province="浙江省",
        city="杭州市",
        street="文一西路969号",
        emails=[{"value": "zw@example.com", "label": "work"}],
        phones=[{"value": "13800138000", "label": "mobile"}, {"value": "021-62345678 转 801", "label": "work"}],
        accounts=[{"account": account.pk, "is_primary": True, "role": "经理"}],
    )


def test_a_contact_reads_back_from_its_card(admin: Any, zhang: Contact) -> None:
    response = client_for(admin).get(f"/api/v1/contacts/{zhang.pk}/vcard")
    assert response.status_code == 200 and response["Content-Type"] == "text/vcard; charset=utf-8"
    assert "filename*=UTF-8''%E5%BC%A0%E4%BC%9F.vcf" in response["Content-Disposition"]
    text = response.content.decode()
    assert "TEL;TYPE=CELL,VOICE,PREF:+86 138 0013 8000" in text  # unquoted types: phones read them
    card = vobject.readOne(text)
    assert (card.n.value.family, card.n.value.given, card.fn.value) == ("张", "伟", "张伟")
    assert card.org.value == ["阿里巴巴（中国）有限公司", "市场部"]
    # What the card says is what the import reads as this person.
    row = dict(zip(vcard.KEYS, vcard.card_cells(text), strict=True))
    assert (row["family"], row["given"], row["company"], row["department"]) == (
        "张",
        "伟",
        "阿里巴巴（中国）有限公司",
        "市场部",
    )
    assert (row["mobile"], row["phone"], row["email"], row["wechat"]) == (
        "+86 138 0013 8000",
        "+86 21 6234 5678 ext. 801",
        "zw@example.com",
        "zhangwei85",
    )
    # The country by name, in the reader's language (the import reads names in either).
    assert (row["province"], row["city"], row["street"], row["country"]) == (
        "浙江省",
        "杭州市",
        "文一西路969号",
        "China",
    )


def test_the_card_holds_only_what_the_user_may_see(
    rep: Any, sales_role: Any, make_contact: Any, make_account: Any, admin: Any
) -> None:
    hidden_company = make_account(name="看不见的公司")
    mine = make_contact(
        by=rep,
        family_name="王",
        given_name="芳",
        phones=["13700137000"],
        emails=["wf@example.com"],
        accounts=[{"account": make_account(name="看得见的公司", by=rep).pk}],
    )
    from guanxi.customers import services

    services.contact_link_account(contact_id=mine.pk, account_id=hidden_company.pk, user=admin, is_primary=True)
    field_rule(sales_role, "customers.contact", "phones", "hidden")
    text = client_for(rep).get(f"/api/v1/contacts/{mine.pk}/vcard").content.decode()
    assert "TEL" not in text and "13700137000" not in text
    assert "wf@example.com" in text and "看得见的公司" in text and "看不见的公司" not in text
    others = make_contact(family_name="赵", given_name="六")  # the admin's: the rep may not see it
    assert client_for(rep).get(f"/api/v1/contacts/{others.pk}/vcard").status_code == 404
    assert client_for(rep).get(f"/customers/contacts/{others.pk}/vcard/").status_code == 404


def test_the_contact_page_offers_the_card(admin: Any, zhang: Contact) -> None:
    browser = client_for(admin)
    page = browser.get(f"/customers/contacts/{zhang.pk}/").content.decode()
    assert f'href="/customers/contacts/{zhang.pk}/vcard/"' in page and 'id="vcard-download"' in page
    # The QR code is drawn when the menu opens, not with the page.
    assert f'hx-get="/customers/contacts/{zhang.pk}/vcard/qr/"' in page and "<svg" not in page.split("vcard-menu")[1]
    response = browser.get(f"/customers/contacts/{zhang.pk}/vcard/")
    assert response.status_code == 200 and b"FN:\xe5\xbc\xa0\xe4\xbc\x9f" in response.content


def test_the_card_as_a_qr_code(admin: Any, rep: Any, zhang: Contact, make_contact: Any) -> None:
    from guanxi.core.qr import qr_svg
    from guanxi.customers.views import QR_MAX_VERSION

    fragment = client_for(admin).get(f"/customers/contacts/{zhang.pk}/vcard/qr/").content.decode()
    assert "<svg" in fragment and 'aria-labelledby="vcard-qr-title"' in fragment
    # The code holds the card itself: the same text, drawn again, gives the same picture.
    card = client_for(admin).get(f"/api/v1/contacts/{zhang.pk}/vcard").content.decode()
    drawn = qr_svg(card, size=240, title_id="vcard-qr-title", max_version=QR_MAX_VERSION, on_screen=True)
    assert drawn in fragment
    assert client_for(rep).get(f"/customers/contacts/{zhang.pk}/vcard/qr/").status_code == 404
    # A card too full for a camera to read from a screen says so; the file still downloads whole.
    emails = [f"person.{i}.{'x' * 40}@{'department' * 4}.example.com" for i in range(12)]
    crowded = make_contact(family_name="王", given_name="多", emails=emails)
    fragment = client_for(admin).get(f"/customers/contacts/{crowded.pk}/vcard/qr/").content.decode()
    assert "<svg" not in fragment and "Too much on this card" in fragment
    assert client_for(admin).get(f"/customers/contacts/{crowded.pk}/vcard/").content.count(b"EMAIL") == 12
