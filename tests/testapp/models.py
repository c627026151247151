"""A small owned record used by the platform tests; it stands for accounts, leads, tickets..."""

from django.db import models

from guanxi.core.models import GuanxiModel


class Gadget(GuanxiModel):
    """An owned CRM-like record: owner/team/subordinates scopes, shares, tags, custom fields, recycle bin."""

    name = models.CharField("name", max_length=100)
    price = models.DecimalField("price", max_digits=12, decimal_places=2, default=0)
    status = models.CharField("status", max_length=20, blank=True, default="new")

    class Meta(GuanxiModel.Meta):
        verbose_name = "gadget"
        verbose_name_plural = "gadgets"
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.name
