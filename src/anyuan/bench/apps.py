from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "anyuan.bench"
    label = "bench"
    verbose_name = "Benchmarks"
