from typing import Any

from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.title

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "body": self.body,
                "created": self.created.isoformat()}
