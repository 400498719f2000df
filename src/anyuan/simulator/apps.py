from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "anyuan.simulator"
    label = "simulator"
    verbose_name = "Simulator"
