"""Organisation: business units (a tree), people and their profiles, accounts and role assignments."""
