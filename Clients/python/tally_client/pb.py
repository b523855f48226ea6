"""Every tally.v1 message and enum, in one namespace: ``pb.CreditRequest``, ``pb.Balance``,
``pb.CREDIT_KIND_GRANT``, ``pb.SetLimitsRequest.TierLimitChange``...

The modules themselves are generated into tally_client/_pb by Clients/python/gen-protos.sh
(Debian's protoc); a new .proto under Protos/tally/v1 needs one import line here.
"""

from ._pb.tally.v1.actions_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.admin_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.audit_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.envelope_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.ledger_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.memberships_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.predictions_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.purchases_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1.usage_pb2 import *  # noqa: F401,F403
from ._pb.tally.v1 import (
    actions_pb2, admin_pb2, audit_pb2, envelope_pb2, ledger_pb2, memberships_pb2, predictions_pb2, purchases_pb2, usage_pb2,
)

#: The generated modules, in the order their services are looked up for METHODS.
MODULES = (envelope_pb2, ledger_pb2, admin_pb2, usage_pb2, purchases_pb2, predictions_pb2, memberships_pb2, actions_pb2, audit_pb2)

del DESCRIPTOR  # noqa: F821 -- each module's own; star imports would leave the last one
