"""The topics the services create carry their own durability settings, not the brokers' defaults.

Kafka's default ``min.insync.replicas`` is 1: with replication factor 3 and ``acks=all`` the leader may then
acknowledge an alert alone once its followers fell behind, and losing that broker loses the alert. The topics are
therefore created with ``min.insync.replicas`` 2 (the replication factor when lower), no unclean leader election and
the delete cleanup policy, as topic settings (the test broker is one node, so its topics have one replica).
"""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from alertrouter_shared.kafka import ensure_topics
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import TopicSpec, all_topics, durability_configs

DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a setting made on the topic itself


def test_topics_of_three_replicas_need_two_in_sync_for_an_acknowledgement() -> None:
    for spec in all_topics(12, 3):
        assert spec.configs["min.insync.replicas"] == "2", spec.name
        assert spec.configs["unclean.leader.election.enable"] == "false"
        assert spec.configs["cleanup.policy"] == "delete"
    assert durability_configs(5)["min.insync.replicas"] == "2"
    assert durability_configs(2)["min.insync.replicas"] == "2"  # both replicas: one alone never acknowledges
    assert durability_configs(1)["min.insync.replicas"] == "1"  # a single broker (development, tests)


async def test_created_topics_carry_the_durability_settings_as_their_own(kafka_bootstrap: str) -> None:
    settings = CommonSettings(kafka_bootstrap_servers=kafka_bootstrap)
    name = f"test.durable.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [TopicSpec(name, 2, 1)])
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        wanted = durability_configs(1)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict(wanted))])
    finally:
        await admin.close()
    [(error_code, _, _, resource_name, entries)] = response.resources
    assert (error_code, resource_name) == (0, name)
    found = {entry[0]: (entry[1], entry[3]) for entry in entries}  # name: (value, config_source)
    assert found == {key: (value, DYNAMIC_TOPIC_CONFIG) for key, value in wanted.items()}
