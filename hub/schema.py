"""Every table of the hub in one metadata: the core models and each domain's own.

The core models (hub.models) know no domain; a domain's models (rules, work orders, cameras,
login throttling) build on them. Whatever needs all the tables at once (migrations, a test
creating a database) takes `metadata` from here. A new domain's models are added below.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from hub import audit, door_states, login_throttle
from hub.cameras import models as camera_models
from hub.homesec import models as homesec_models
from hub.meters import models as meter_models
from hub.models import Base
from hub.patrol import models as patrol_models
from hub.readers import models as reader_models
from hub.rules import models as rule_models
from hub.vehicles import models as vehicle_models
from hub.workorders import models as work_order_models

# Importing a domain's models puts its tables on Base.metadata.
DOMAIN_MODELS = (rule_models, work_order_models, camera_models, login_throttle, door_states,
                 reader_models, audit, patrol_models, vehicle_models, meter_models,
                 homesec_models)

metadata: MetaData = Base.metadata

__all__ = ["DOMAIN_MODELS", "metadata"]
