"""The records of the permission matrix and, written out by hand, who may see and change which.

The expected sets below are the policy, typed from the rules (own / team / subordinates / shares /
follow the parent), never computed with ``restrict`` — so a broken ``restrict`` fails the matrix.

Organisation (tests/conftest.py ``build_principals``):

* owner      — role Rep (own on * and gadgets), team A
* colleague  — role Team rep (team scope), team A
* other      — role Rep, team B
* manager    — role Manager, parent of Rep: view/change subordinates' records, add/delete own
* norole     — no role, no team; one gadget is shared with them
* admin      — superuser (session); admin_token — the admin's token with ``*:*``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from tests.conftest import Principals
from tests.factories import (
    CustomFieldFactory,
    GadgetFactory,
    RoleFactory,
    TagFactory,
    TeamFactory,
    attach,
    changelog_entry,
    content_type_of,
    make_token,
    note,
    share,
    tag,
    timeline_entry,
)

ADMINS = ("admin", "admin_token")
PEOPLE = ("owner", "colleague", "other", "manager", "norole")


@dataclass
class World:
    p: Principals
    objs: dict[str, dict[str, Any]] = field(default_factory=dict)
    gadget_ct: int = 0  # the content type id of gadgets (notes, files and shares name it)

    def add(self, kind: str, key: str, obj: Any) -> Any:
        self.objs.setdefault(kind, {})[key] = obj
        return obj

    def obj(self, kind: str, key: str) -> Any:
        return self.objs[kind][key]

    def pk(self, kind: str, key: str) -> int:
        return self.objs[kind][key].pk

    def keys(self, kind: str) -> list[str]:
        return list(self.objs[kind])

    def key_of(self, kind: str, pk: Any) -> str:
        for key, obj in self.objs[kind].items():
            if obj.pk == pk:
                return key
        return f"<unknown {kind} #{pk}>"


def build_world(p: Principals) -> World:
    w = World(p)
    u = p.users
    g = {
        "g_owner": GadgetFactory(owner=u["owner"], name="Owner's gadget"),
        "g_colleague": GadgetFactory(owner=u["colleague"], name="Colleague's gadget"),
        "g_other": GadgetFactory(owner=u["other"], name="Other's gadget"),
        "g_manager": GadgetFactory(owner=u["manager"], name="Manager's gadget"),
        "g_admin": GadgetFactory(owner=u["admin"], name="Admin's gadget"),
        "g_sv": GadgetFactory(owner=u["other"], name="Shared for viewing"),
        "g_sc": GadgetFactory(owner=u["other"], name="Shared for changing"),
        "g_st": GadgetFactory(owner=u["other"], name="Shared with team A"),
    }
    for key, gadget in g.items():
        w.add("gadget", key, gadget)
    deleted = {
        "d_owner": GadgetFactory(owner=u["owner"], name="Owner's deleted gadget"),
        "d_other": GadgetFactory(owner=u["other"], name="Other's deleted gadget"),
        "d_sc": GadgetFactory(owner=u["other"], name="Deleted, shared for changing"),
    }
    for key, gadget in deleted.items():
        gadget.deleted_at = timezone.now()
        gadget.deleted_by = gadget.owner
        gadget.save()
        w.add("deleted", key, gadget)

    w.add("share", "s_sv", share(g["g_sv"], user=u["owner"], access="view"))
    w.add("share", "s_sc", share(g["g_sc"], user=u["owner"], access="change"))
    w.add("share", "s_st", share(g["g_st"], team=p.teams["A"], access="view"))
    w.add("share", "s_norole", share(g["g_admin"], user=u["norole"], access="view"))
    w.add("share", "s_dsc", share(deleted["d_sc"], user=u["owner"], access="change"))

    tag(g["g_owner"], "vip")
    tag(g["g_other"], "cold")
    w.add("tag", "vip", TagFactory(name="vip"))
    w.add("tag", "cold", TagFactory(name="cold"))
    w.add("customfield", "region", CustomFieldFactory(key="region", label_en="Region", label_zh="地区"))

    w.add("attachment", "a_owner", attach(g["g_owner"], name="owner.txt", content=b"owner's file", by=u["owner"]))
    w.add("attachment", "a_other", attach(g["g_other"], name="other.txt", content=b"other's file", by=u["other"]))
    w.add("attachment", "a_sv", attach(g["g_sv"], name="shared.txt", content=b"shared file", by=u["other"]))

    w.add("note", "n_owner", note(g["g_owner"], owner=u["owner"], body="owner's note"))
    w.add("note", "n_other", note(g["g_other"], owner=u["other"], body="other's note"))
    w.add("note", "n_sv", note(g["g_sv"], owner=u["other"], body="note on a shared gadget"))

    w.add("timeline", "tl_owner", timeline_entry(g["g_owner"], actor=u["owner"], summary="owner called"))
    w.add("timeline", "tl_other", timeline_entry(g["g_other"], actor=u["other"], summary="other called"))

    w.add("changelog", "e_owner_g", changelog_entry(g["g_owner"], actor=u["owner"]))
    w.add("changelog", "e_other_g", changelog_entry(g["g_other"], actor=u["other"]))
    w.add("changelog", "e_admin_g_owner", changelog_entry(g["g_owner"], actor=u["admin"]))
    w.add("changelog", "e_admin_tag", changelog_entry(w.obj("tag", "vip"), actor=u["admin"]))
    w.add("changelog", "e_admin_user_other", changelog_entry(u["other"], actor=u["admin"]))
    w.add("changelog", "e_colleague_other", changelog_entry(g["g_other"], actor=u["colleague"]))

    w.add("token", "t_owner", make_token(u["owner"], ["*:*"], name="owner's token")[0])
    w.add("token", "t_other", make_token(u["other"], ["*:*"], name="other's token")[0])
    w.add("token", "t_admin", p.tokens["admin_token"])
    w.add("token", "t_noscope", p.tokens["token_noscope"])

    for name, user in u.items():
        w.add("user", name, user)
    for name, team in p.teams.items():
        w.add("team", name, team)
    for name, role in p.roles.items():
        w.add("role", name, role)
    # Nobody belongs to these, so they may be moved to the recycle bin (held ones are refused: 400).
    w.add("team", "spare", TeamFactory(name="Spare team"))
    w.add("role", "spare", RoleFactory(name="Spare role"))
    w.gadget_ct = content_type_of(g["g_owner"]).pk
    return w


ALL = "ALL"  # every row of the kind (admins)
DENIED = None  # the list answers 403: the principal may see no row of this type at all


# --- the policy ---------------------------------------------------------------------------------------

GADGET_VIEW: dict[str, Any] = {
    "owner": {"g_owner", "g_sv", "g_sc", "g_st"},
    "colleague": {"g_owner", "g_colleague", "g_st"},
    "other": {"g_other", "g_sv", "g_sc", "g_st"},
    "manager": {"g_manager", "g_owner", "g_other", "g_sv", "g_sc", "g_st"},
    "norole": {"g_admin"},
}
GADGET_CHANGE: dict[str, Any] = {
    "owner": {"g_owner", "g_sc"},
    "colleague": {"g_owner", "g_colleague"},
    "other": {"g_other", "g_sv", "g_sc", "g_st"},
    "manager": {"g_manager", "g_owner", "g_other", "g_sv", "g_sc", "g_st"},
    "norole": set(),
}
GADGET_DELETE: dict[str, Any] = {
    "owner": {"g_owner"},
    "colleague": {"g_owner", "g_colleague"},
    "other": {"g_other", "g_sv", "g_sc", "g_st"},
    "manager": {"g_manager"},
    "norole": set(),
}
# Records in the recycle bin: listing, restoring and purging need "delete" on them.
DELETED_DELETE: dict[str, Any] = {
    "owner": {"d_owner"},
    "colleague": {"d_owner"},
    "other": {"d_other", "d_sc"},
    "manager": set(),
    "norole": set(),
}
DELETED_VIEW: dict[str, Any] = {
    "owner": {"d_owner", "d_sc"},
    "colleague": {"d_owner"},
    "other": {"d_other", "d_sc"},
    "manager": {"d_owner", "d_other", "d_sc"},
    "norole": set(),
}


def parent_table(gadget_table: dict[str, Any], children: dict[str, str]) -> dict[str, Any]:
    """Rows that hang on a gadget (notes, files, timeline, shares) follow the gadget."""
    return {
        who: {child for child, parent in children.items() if parent in gadgets} for who, gadgets in gadget_table.items()
    }


ATTACHMENT_PARENTS = {"a_owner": "g_owner", "a_other": "g_other", "a_sv": "g_sv"}
NOTE_PARENTS = {"n_owner": "g_owner", "n_other": "g_other", "n_sv": "g_sv"}
TIMELINE_PARENTS = {"tl_owner": "g_owner", "tl_other": "g_other"}
# s_dsc hangs on a gadget in the recycle bin: nobody sees it until the gadget is restored.
SHARE_PARENTS = {"s_sv": "g_sv", "s_sc": "g_sc", "s_st": "g_st", "s_norole": "g_admin", "s_dsc": "d_sc"}
LIVE_SHARES = {k for k, v in SHARE_PARENTS.items() if v.startswith("g_")}

ATTACHMENT_VIEW = parent_table(GADGET_VIEW, ATTACHMENT_PARENTS)
ATTACHMENT_CHANGE = parent_table(GADGET_CHANGE, ATTACHMENT_PARENTS)
NOTE_VIEW = parent_table(GADGET_VIEW, NOTE_PARENTS)
NOTE_CHANGE = parent_table(GADGET_CHANGE, NOTE_PARENTS)
TIMELINE_VIEW = parent_table(GADGET_VIEW, TIMELINE_PARENTS)
SHARE_VIEW = {**parent_table(GADGET_VIEW, SHARE_PARENTS), "admin": LIVE_SHARES, "admin_token": LIVE_SHARES}
SHARE_CHANGE = {**parent_table(GADGET_CHANGE, SHARE_PARENTS), "admin": LIVE_SHARES, "admin_token": LIVE_SHARES}

USER_VIEW: dict[str, Any] = {
    "owner": {"owner"},
    "colleague": {"owner", "colleague"},
    "other": {"other"},
    "manager": {"manager", "owner", "other"},
    "norole": DENIED,
}
TEAM_VIEW: dict[str, Any] = {"owner": {"A"}, "colleague": {"A"}, "other": {"B"}, "manager": DENIED, "norole": DENIED}
ROLE_VIEW: dict[str, Any] = {
    "owner": DENIED,
    "colleague": {"team_rep"},
    "other": DENIED,
    "manager": {"manager", "rep"},
    "norole": DENIED,
}
# Everyone manages their own tokens; only an administrator sees others'.
TOKEN_VIEW: dict[str, Any] = {
    "owner": {"t_owner"},
    "colleague": set(),
    "other": {"t_other"},
    "manager": set(),
    "norole": set(),
}
# Tags and custom field definitions are shared dictionaries: any scope means every row.
TAG_VIEW: dict[str, Any] = {"owner": ALL, "colleague": DENIED, "other": ALL, "manager": DENIED, "norole": DENIED}
TAG_ADD = {"owner", "other", "admin", "admin_token"}
CUSTOMFIELD_VIEW: dict[str, Any] = {
    "owner": ALL,
    "colleague": DENIED,
    "other": ALL,
    "manager": DENIED,
    "norole": DENIED,
}
# The change log: entries a user made (with a change-log scope: only Team rep has "own") plus the
# history of every record they may view.
CHANGELOG_VIEW: dict[str, Any] = {
    "owner": {"e_owner_g", "e_admin_g_owner", "e_admin_tag"},
    "colleague": {"e_owner_g", "e_admin_g_owner", "e_colleague_other"},
    "other": {"e_other_g", "e_colleague_other", "e_admin_tag", "e_admin_user_other"},
    "manager": {"e_owner_g", "e_other_g", "e_admin_g_owner", "e_colleague_other", "e_admin_user_other"},
    "norole": set(),
}
