from django.db import models

from bench.apps.items import NAME_MAX, TABLE


class Item(models.Model):
    name = models.CharField(max_length=NAME_MAX)
    description = models.TextField()
    price_cents = models.IntegerField()
    in_stock = models.BooleanField()

    class Meta:
        db_table = TABLE  # the same table name as the Flask app's
        app_label = "django_bench"
