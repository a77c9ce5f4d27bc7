"""The ASGI entry point:

    subcorn examples.django_site.mysite.asgi:application --interface asgi

Django runs sync views in threads it starts through asgiref, some of them
daemon threads; subcorn's workers allow those (concurrent.interpreters does not).
"""

from django.core.asgi import get_asgi_application

from . import project

project.prepare()
application = get_asgi_application()
