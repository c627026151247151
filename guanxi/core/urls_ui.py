"""URLs of the UI, built from the resource registry (namespace ``ui``).

For each resource with ``ui=True``: ``ui:<path>-list`` at ``/<area>/<path>/`` (the area is the
resource's ``nav_group``; ``/settings/...`` for settings), and ``-detail``, ``-add``, ``-edit``,
``-delete``, ``-bulk`` below it. Read-only resources get list and detail only. A module replaces one
page with ``register_view(path, action)`` in its ``views.py`` and adds pages of its own in a
``ui_urlpatterns`` list there; both are found here when the URLs load.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from django.apps import apps
from django.http import HttpResponseBase
from django.urls import URLPattern, URLResolver, path
from django.utils.module_loading import module_has_submodule
from django.views import View

from guanxi.core.imports.views import ui_import_patterns
from guanxi.core.registry import Resource
from guanxi.core.search.views import SearchSuggestView, SearchView
from guanxi.core.views import changelog  # noqa: F401 - registers the change-log entry page
from guanxi.core.views.base import ui_prefix, ui_resources, view_class_for
from guanxi.core.views.bulk import BulkActionView
from guanxi.core.views.exports import ExportView
from guanxi.core.views.follows import FollowView
from guanxi.core.views.jobs import JobDetailView, JobFileView, JobListView
from guanxi.core.views.lists import ObjectListView
from guanxi.core.views.panels import AttachmentAddView, AttachmentDeleteView, NoteAddView, TimelineView
from guanxi.core.views.pick import PickView
from guanxi.core.views.records import ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectRevealView
from guanxi.core.views.recycle_bin import (
    RecycleBinView,
    RecycleBulkView,
    RecyclePurgeView,
    RecycleRestoreView,
    RecycleUndoView,
)
from guanxi.core.views.reveals import RevealReportView
from guanxi.core.views.saved_views import SavedViewDeleteView, SavedViewSaveView

app_name = "ui"


def discover_app_views() -> list[URLPattern | URLResolver]:
    """Import each Guanxi app's ``views`` module (registering its page overrides) and collect its URLs."""
    extra: list[URLPattern | URLResolver] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("guanxi.") or config.name == "guanxi.core":
            continue
        if module_has_submodule(config.module, "views"):
            module = import_module(f"{config.name}.views")
            extra.extend(getattr(module, "ui_urlpatterns", []))
    return extra


def resource_patterns() -> list[URLPattern | URLResolver]:
    patterns: list[URLPattern | URLResolver] = []
    for resource in ui_resources():
        prefix = ui_prefix(resource)
        name = resource.path

        def view(action: str, default: type[View], resource: Resource = resource) -> Callable[..., HttpResponseBase]:
            return view_class_for(resource.path, action, default).as_view(resource=resource)

        patterns += [
            path(prefix, view("list", ObjectListView), name=f"{name}-list"),
            path(f"{prefix}<int:pk>/", view("detail", ObjectDetailView), name=f"{name}-detail"),
        ]
        if getattr(resource.model, "revealable", False):
            reveal = view("reveal", ObjectRevealView)
            patterns.append(path(f"{prefix}<int:pk>/reveal/<str:field>/", reveal, name=f"{name}-reveal"))
        if not resource.read_only:
            patterns += [
                path(f"{prefix}add/", view("add", ObjectEditView), name=f"{name}-add"),
                path(f"{prefix}<int:pk>/edit/", view("edit", ObjectEditView), name=f"{name}-edit"),
                path(f"{prefix}<int:pk>/delete/", view("delete", ObjectDeleteView), name=f"{name}-delete"),
                path(f"{prefix}bulk/", view("bulk", BulkActionView), name=f"{name}-bulk"),
            ]
    return patterns


# App pages first: their fixed paths (e.g. /settings/tokens/<id>/revoke/) must not be shadowed.
_app_patterns = discover_app_views()

urlpatterns: list[URLPattern | URLResolver] = [
    *_app_patterns,
    *ui_import_patterns,
    path("settings/reveals/", RevealReportView.as_view(), name="reveal-report"),
    path("settings/recycle-bin/", RecycleBinView.as_view(), name="recycle-bin"),
    path("settings/recycle-bin/undo/", RecycleUndoView.as_view(), name="recycle-undo"),
    path("settings/recycle-bin/<slug:path>/bulk/", RecycleBulkView.as_view(), name="recycle-bulk"),
    path("settings/recycle-bin/<slug:path>/<int:pk>/restore/", RecycleRestoreView.as_view(), name="recycle-restore"),
    path("settings/recycle-bin/<slug:path>/<int:pk>/purge/", RecyclePurgeView.as_view(), name="recycle-purge"),
    path("records/<int:content_type_id>/<int:object_id>/notes/", NoteAddView.as_view(), name="note-add"),
    path("records/<int:content_type_id>/<int:object_id>/timeline/", TimelineView.as_view(), name="timeline"),
    path(
        "records/<int:content_type_id>/<int:object_id>/attachments/",
        AttachmentAddView.as_view(),
        name="attachment-add",
    ),
    path("attachments/<int:pk>/delete/", AttachmentDeleteView.as_view(), name="attachment-delete"),
    path("follow/<slug:path>/<int:pk>/", FollowView.as_view(), name="follow"),
    path("saved-views/<slug:path>/", SavedViewSaveView.as_view(), name="saved-view-save"),
    path("saved-views/<int:pk>/delete/", SavedViewDeleteView.as_view(), name="saved-view-delete"),
    path("search/", SearchView.as_view(), name="search"),
    path("search/suggest/", SearchSuggestView.as_view(), name="search-suggest"),
    path("pick/<slug:path>/", PickView.as_view(), name="pick"),
    path("jobs/", JobListView.as_view(), name="job-list"),
    path("jobs/<int:pk>/", JobDetailView.as_view(), name="job-detail"),
    path("jobs/<int:pk>/file/", JobFileView.as_view(), name="job-file"),
    path("export/<slug:path>/", ExportView.as_view(), name="export"),
    *resource_patterns(),
]
