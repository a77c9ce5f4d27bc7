"""The WSGI entry point:

    subcorn examples.django_site.mysite.wsgi:application --interface wsgi
"""

from django.core.wsgi import get_wsgi_application

from . import project

project.prepare()
application = get_wsgi_application()
