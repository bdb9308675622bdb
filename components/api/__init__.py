from components.api.component import Api, ApiArgs

__all__ = ["Api", "ApiArgs"]
