"""TravelSIM: a traveler portal for travel eSIMs on BICS SIM for Things (SFT)."""
