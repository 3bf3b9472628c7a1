"""PettingZoo-level mechanisms (commitment, incentive channels, designer seat) and the RLlib adapter."""
