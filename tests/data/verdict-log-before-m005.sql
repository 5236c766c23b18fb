BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'pangolin','m001_verdicts','2026-11-28 16:15:51.014777+00:00');
INSERT INTO "_sqlite_migrations" VALUES(2,'pangolin','m002_reviews_and_appeals','2026-11-28 16:15:51.015472+00:00');
INSERT INTO "_sqlite_migrations" VALUES(3,'pangolin','m003_api_keys','2026-11-28 16:15:51.015827+00:00');
INSERT INTO "_sqlite_migrations" VALUES(4,'pangolin','m004_redacted_digest','2026-11-28 16:15:51.016170+00:00');
CREATE TABLE "api_keys" (
   "key_id" TEXT PRIMARY KEY,
   "name" TEXT NOT NULL,
   "role" TEXT NOT NULL,
   "key_hash" TEXT NOT NULL,
   "created_at" TEXT NOT NULL,
   "revoked_at" TEXT
);
CREATE TABLE "appeals" (
   "id" INTEGER PRIMARY KEY,
   "decision_id" TEXT NOT NULL,
   "reason" TEXT NOT NULL,
   "language" TEXT,
   "created_at" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "row_hash" TEXT NOT NULL
);
INSERT INTO "appeals" VALUES(1,'vd_01M8H8V7E5B232R4YXF0JFCQ50','It is resin.','en','2026-11-28T16:15:51.029Z','0000000000000000000000000000000000000000000000000000000000000000','f54f030224ed855ccea57c874935b412be20bd76d03b6900226dc2be73a1008f');
INSERT INTO "appeals" VALUES(2,'vd_01M8H8V7E5B232R4YXF0JFCQ52','Bone, not ivory.','sv','2026-11-28T16:15:51.029Z','f54f030224ed855ccea57c874935b412be20bd76d03b6900226dc2be73a1008f','e9c3d1fb34c1c1688cbe1951af239607f69f5e3ea88f3862267af6802759554d');
CREATE TABLE "reviews" (
   "id" INTEGER PRIMARY KEY,
   "decision_id" TEXT NOT NULL,
   "reviewer" TEXT NOT NULL,
   "decision" TEXT NOT NULL,
   "note" TEXT,
   "created_at" TEXT NOT NULL,
   "prev_hash" TEXT NOT NULL,
   "row_hash" TEXT NOT NULL
);
INSERT INTO "reviews" VALUES(1,'vd_01M8H8V7E5B232R4YXF0JFCQ50','rev (key_x)','rejected','Real ivory.','2026-11-28T16:15:51.029Z','0000000000000000000000000000000000000000000000000000000000000000','01b153c2519b802b59a525ac2dfa1060c9ee947788543b2f6376cbec8199c2e7');
CREATE TABLE "verdicts" (
   "seq" INTEGER PRIMARY KEY,
   "decision_id" TEXT NOT NULL,
   "advertiser_id" TEXT NOT NULL,
   "submission_id" TEXT,
   "submission_json" TEXT,
   "submission_sha256" TEXT NOT NULL,
   "decision" TEXT NOT NULL,
   "reasons_json" TEXT NOT NULL,
   "reasons_sha256" TEXT NOT NULL,
   "shadow_json" TEXT,
   "trace_json" TEXT,
   "policy_version" TEXT NOT NULL,
   "language" TEXT,
   "checked_at" TEXT NOT NULL,
   "duration_ms" REAL,
   "prev_hash" TEXT NOT NULL,
   "row_hash" TEXT NOT NULL,
   "purged_at" TEXT
, "redacted_sha256" TEXT);
INSERT INTO "verdicts" VALUES(1,'vd_01M8H8V7E5B232R4YXF0JFCQ50','adv-1',NULL,NULL,'b50b8a7a0fc09b3069e211e0ed5ca252c99b4c50bb73bdd95eecf9b8d78d50d3','rejected','[{"decision":"rejected","evidence":[{"field":"headline"}],"help_url":"/policies/protected-wildlife-products","language":"en","policy":"protected-wildlife-products","policy_title":"Products from protected animals","rule":"ivory-any-animal","title":"Ivory"}]','16b579fa5f7586ad8371f165ee5e51022ba3c0f3cf617167d7de94f6d3d0bb5c',NULL,NULL,'sha256:26b275d595f46808dd02416dbcd22094621dc84dfaa3c6070b023e76131b318b','en','2020-01-01T12:00:00.000Z',0.734,'0000000000000000000000000000000000000000000000000000000000000000','b3bd7f85c19fba832917201ab1ef44a951ab90da60b12c3ad0ba9c1dc073d9cb','2026-11-28T16:15:51.029Z','1fece1a713b8ff681b02af3d2f1738a3d10bdb40fb14d0900c757a504557101e');
INSERT INTO "verdicts" VALUES(2,'vd_01M8H8V7E5B232R4YXF0JFCQ51','adv-1',NULL,NULL,'e91e5c9e63dd9729a7c42a4a72441728a98e2fe19314a8fcdd4168529b23e344','approved','[]','4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945',NULL,NULL,'sha256:26b275d595f46808dd02416dbcd22094621dc84dfaa3c6070b023e76131b318b','en','2020-01-02T12:00:00.000Z',0.679,'b3bd7f85c19fba832917201ab1ef44a951ab90da60b12c3ad0ba9c1dc073d9cb','0382b1fdee2c6f9747138ae29fc1c65d572fee269ce4ec176b59c37bedc74067','2026-11-28T16:15:51.029Z','4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945');
INSERT INTO "verdicts" VALUES(3,'vd_01M8H8V7E5B232R4YXF0JFCQ52','adv-2',NULL,'{"advertiser_id":"adv-2","body":"Estate piece, £300.","headline":"Carved ivory elephant","language":"sv"}','fee3982ebd64e45452c6b95f7b30a33bc136105f670ba7a703f8c7199777bba1','rejected','[{"advice":"Ta bort elfenbensföremålet. ”Antikt”, ”före förbudet” eller ”med intyg” gör inte elfenben tillåtet. Om ”ivory” är färgen, skriv ”ivory colour” eller ”cream”. Om föremålet är en imitation, skriv vad det är gjort av, till exempel ”resin” eller ”faux”.","decision":"rejected","evidence":[{"disclosed":true,"end":12,"field":"headline","start":7,"text":"ivory"}],"help_url":"/policies/protected-wildlife-products","language":"sv","message":"Annonser får inte sälja eller efterfråga elfenben från något djur (elefant, mammut, valross, flodhäst, val), oavsett ålder eller intyg (policyn ”Produkter från skyddade djur”). Hittat i rubriken: ”ivory”.","policy":"protected-wildlife-products","policy_title":"Produkter från skyddade djur","rule":"ivory-any-animal","title":"Elfenben"}]','a3fd39b617f983098ddedd7b86814f1c66eb5e5a09fb84eb84e905486cd0085d','[]','{"documents":[{"field":"headline","folded":"carved ivory elephant"},{"field":"body","folded":"estate piece £300"}],"evidence":[{"evidence":[{"concept":"ivory","disclosed":true,"end":12,"field":"headline","lexicon":"products","start":7,"term":"ivory","text":"ivory","transforms":[]}],"policy":"protected-wildlife-products","rule":"ivory-any-animal"}],"hits":[{"concept":"carving","field":"headline","folded":"carved","lexicon":"parts","negated":false,"term":"carved","transforms":[]},{"concept":"ivory","field":"headline","folded":"ivory","lexicon":"products","negated":false,"term":"ivory","transforms":[]},{"concept":"elephant","field":"headline","folded":"elephant","lexicon":"animals","negated":false,"term":"elephant","transforms":[]},{"concept":"available","field":"body","folded":"piece","lexicon":"cues","negated":false,"term":"pièce","transforms":[]},{"concept":"price-amount","field":"body","folded":"£300","lexicon":"cues","negated":false,"term":null,"transforms":["pattern"]}],"rules":[{"decision":"rejected","mode":"enforce","policy":"protected-wildlife-products","rule":"ivory-any-animal"}],"timings_ms":{"evaluate":0.264,"match":0.263,"normalize":0.085}}','sha256:26b275d595f46808dd02416dbcd22094621dc84dfaa3c6070b023e76131b318b','sv','2026-01-03T12:00:00.000Z',0.735,'0382b1fdee2c6f9747138ae29fc1c65d572fee269ce4ec176b59c37bedc74067','e209e393a46dc246925757236a78300e36990cd73ff4e3a5943e66d1aa772525',NULL,'ec107e817c7dbe0e14db98467aba9921648589f56601ddfd7a546becec95123c');
INSERT INTO "verdicts" VALUES(4,'vd_01M8H8V7E5B232R4YXF0JFCQ53','adv-2',NULL,'{"advertiser_id":"adv-2","headline":"Tiger bone wine, 500 ml"}','d8c3a7c0e67c585b201820a19f31130d4fa745f48ff79f1b44dbd987a14e1287','rejected','[{"advice":"Remove the animal product. If you sell a replica, a print or a toy, say what it is made of (resin, fabric, plush) and that no animal material is used.","decision":"rejected","evidence":[{"disclosed":true,"end":15,"field":"headline","start":0,"text":"Tiger bone wine"}],"help_url":"/policies/protected-wildlife-products","language":"en","message":"Ads may not sell or ask for products made from protected animals, such as rhino horn, pangolin scales, tiger bone, claws and skins, bear bile, shark fin, turtle eggs or whale meat (policy “Products from protected animals”). Found in the headline: “Tiger bone wine”.","policy":"protected-wildlife-products","policy_title":"Products from protected animals","rule":"protected-animal-products","title":"Parts of protected animals"}]','8e8e3dfab94e2b595feda3748c0d58faa1cd313034a2bc32de3b3c5076b33d4a','[]','{"documents":[{"field":"headline","folded":"tiger bone wine 500 ml"}],"evidence":[{"evidence":[{"concept":"tiger-bone","disclosed":true,"end":15,"field":"headline","lexicon":"products","start":0,"term":"tiger bone wine","text":"Tiger bone wine","transforms":[]}],"policy":"protected-wildlife-products","rule":"protected-animal-products"}],"hits":[{"concept":"tiger-bone","field":"headline","folded":"tiger bone wine","lexicon":"products","negated":false,"term":"tiger bone wine","transforms":[]}],"rules":[{"decision":"rejected","mode":"enforce","policy":"protected-wildlife-products","rule":"protected-animal-products"}],"timings_ms":{"evaluate":0.1,"match":0.195,"normalize":0.042}}','sha256:26b275d595f46808dd02416dbcd22094621dc84dfaa3c6070b023e76131b318b','en','2026-01-04T12:00:00.000Z',0.483,'e209e393a46dc246925757236a78300e36990cd73ff4e3a5943e66d1aa772525','80983acf3532f947fb0b0c17040a59312507133afa9d4ba4173834ca4f0269b2',NULL,'184324f2366feaf284090569cd1f89dcd9437bb084108b8edc1a4feb45361811');
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
CREATE UNIQUE INDEX "idx_verdicts_decision_id"
    ON "verdicts" ("decision_id");
CREATE INDEX "idx_verdicts_advertiser_id"
    ON "verdicts" ("advertiser_id");
CREATE INDEX "idx_verdicts_decision"
    ON "verdicts" ("decision");
CREATE INDEX "idx_verdicts_checked_at"
    ON "verdicts" ("checked_at");
CREATE TRIGGER verdicts_no_delete BEFORE DELETE ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END;
CREATE INDEX "idx_reviews_decision_id"
    ON "reviews" ("decision_id");
CREATE INDEX "idx_appeals_decision_id"
    ON "appeals" ("decision_id");
CREATE TRIGGER reviews_append_only_update BEFORE UPDATE ON reviews
                BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
CREATE TRIGGER reviews_append_only_delete BEFORE DELETE ON reviews
                BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
CREATE TRIGGER appeals_append_only_update BEFORE UPDATE ON appeals
                BEGIN SELECT RAISE(ABORT, 'appeals are append-only'); END;
CREATE TRIGGER appeals_append_only_delete BEFORE DELETE ON appeals
                BEGIN SELECT RAISE(ABORT, 'appeals are append-only'); END;
CREATE UNIQUE INDEX "idx_api_keys_key_hash"
    ON "api_keys" ("key_hash");
CREATE TRIGGER verdicts_no_update BEFORE UPDATE OF
             seq, decision_id, advertiser_id, submission_id, submission_sha256, decision, reasons_sha256,
             redacted_sha256, policy_version, language, checked_at, duration_ms, prev_hash, row_hash
           ON verdicts
           BEGIN SELECT RAISE(ABORT, 'verdicts are append-only'); END;
COMMIT;
