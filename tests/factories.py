"""factory_boy factories that go through the services, as real sign-ups do."""

import factory

from linkflow.accounts.models import User
from linkflow.accounts.services import user_create

PASSWORD = "correct horse battery staple"


class UserFactory(factory.Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *, email: str, password: str) -> User:
        return user_create(email=email, password=password)
