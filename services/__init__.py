"""The services this application serves; registering one is one line here."""

from gateway import Service
from services import orders, payments, projects, users

SERVICES: list[Service] = [users.service, orders.service, payments.service, projects.service]
