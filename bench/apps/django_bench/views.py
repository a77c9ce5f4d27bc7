from django.http import HttpRequest, JsonResponse

from .models import Item

FIELDS = ("id", "name", "description", "price_cents", "in_stock")


def items(request: HttpRequest) -> JsonResponse:
    # One ORM query; .values() gives the rows as dicts, ready for JSON.
    return JsonResponse({"items": list(Item.objects.order_by("id").values(*FIELDS))})
