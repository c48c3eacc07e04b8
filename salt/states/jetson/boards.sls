# The boards of this site server, from pillar (included by jetson/site.sls):
#   salt site01 state.apply jetson.site
#
# - Every board in pillar gets a record of its nfsroot (<root>/boards/<board>/board.json, so the
#   site still knows it once pillar forgets it), its identity (minion key pair, made here where
#   missing) and its export. Exports are also the switch's business (steps 3 and 5), so a board
#   is exported here only when it is idle and not parked: its journal has no operation and its
#   board lock is free (taken while exporting, so no swap starts meanwhile), and it is either new
#   (no journal yet) or holds an image. A parked board stays unexported, as the release left it.
#   The one window the site cannot see is a switch between its unexport (step 3) and its swap
#   (step 4), whose lease lives on the master: a re-export there makes the swap refuse ("is
#   exported: unexport it first"), and running the switch again resumes it; no image moves.
# - Key acceptance is the master's: this state fires jetson/site/enroll with board names only,
#   and the master's reactor (salt/reactor/jetson_site_enroll.sls) runs jetson.enroll_site,
#   which checks the sender is the boards' site and accepts the public keys it fetches from it.
# - A board pillar no longer lists is retired: refused while it is mid-switch, busy, booked or
#   booted; else unexported, its image parked into its owner's slot, and its folder (identity,
#   record, journal) moved to <root>/attic/boards/<board>-<time>/. Nothing is deleted.
jetson-boards:
  jetson_boards_site.present:
    - require:
      - jetson_site: jetson-store

jetson-retired-boards:
  jetson_boards_site.retired:
    - require:
      - jetson_site: jetson-store
