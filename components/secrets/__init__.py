from components.secrets.component import Secrets, SecretsArgs

__all__ = ["Secrets", "SecretsArgs"]
