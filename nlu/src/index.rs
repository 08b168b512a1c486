//! The tantivy index of the knowledge base, built in RAM at start-up.
//!
//! One document per example phrasing (fields `ex_words`, `ex_grams`) and one per
//! topic for its title + keywords (`meta`) and its answer (`answer`). Text is analysed
//! by [`crate::analysis`] before it reaches tantivy, so tantivy only splits on spaces
//! and both sides of a match went through the same French pipeline.
//!
//! Scores are BM25 per field, aggregated per intent (best document), then divided by
//! the score a perfect document would get for the same query (the sum of the query
//! terms' idf). That ratio is comparable across queries of any length, and words the
//! knowledge base has never seen (df = 0, highest idf) pull it down: exactly what an
//! out-of-scope request looks like.

use std::collections::{BTreeSet, HashMap};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{TextAnalyzer, WhitespaceTokenizer};
use tantivy::{Index, IndexReader, TantivyDocument, Term};

use crate::analysis::{Analyzed, Analyzer};
use crate::knowledge::KnowledgeBase;

const TOKENIZER: &str = "analysed";
/// Writer heap: the whole base is a few hundred short documents.
const WRITER_HEAP: usize = 20_000_000;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

/// The four field groups a query is scored against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    ExampleWords,
    /// All phrasings + title + keywords of an intent as one document.
    IntentWords,
    ExampleGrams,
    Meta,
    Answer,
    /// Phonetic keys of an intent's phrasings, title and keywords, as one document.
    Phonetic,
}

pub const FIELD_KINDS: [FieldKind; 6] =
    [FieldKind::ExampleWords, FieldKind::IntentWords, FieldKind::ExampleGrams, FieldKind::Meta, FieldKind::Answer, FieldKind::Phonetic];

/// Normalised scores (0 ≈ nothing in common, ~1 = every query term matched) of one intent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FieldScores {
    pub example_words: f32,
    pub intent_words: f32,
    pub example_grams: f32,
    pub meta: f32,
    pub answer: f32,
    pub phonetic: f32,
}

impl FieldScores {
    fn slot(&mut self, k: FieldKind) -> &mut f32 {
        match k {
            FieldKind::ExampleWords => &mut self.example_words,
            FieldKind::IntentWords => &mut self.intent_words,
            FieldKind::ExampleGrams => &mut self.example_grams,
            FieldKind::Meta => &mut self.meta,
            FieldKind::Answer => &mut self.answer,
            FieldKind::Phonetic => &mut self.phonetic,
        }
    }
}

struct Fields {
    intent: Field,
    ex_words: Field,
    all_words: Field,
    ex_grams: Field,
    meta: Field,
    answer: Field,
    phon: Field,
}

impl Fields {
    fn of(&self, k: FieldKind) -> Field {
        match k {
            FieldKind::ExampleWords => self.ex_words,
            FieldKind::IntentWords => self.all_words,
            FieldKind::ExampleGrams => self.ex_grams,
            FieldKind::Meta => self.meta,
            FieldKind::Answer => self.answer,
            FieldKind::Phonetic => self.phon,
        }
    }
}

/// An immutable, searchable snapshot of one knowledge base.
pub struct IntentIndex {
    reader: IndexReader,
    fields: Fields,
    /// Intent names by id (topic slugs, then `@agent`, `@none`).
    intents: Vec<String>,
    /// Number of documents carrying each field, for idf.
    docs_with: HashMap<FieldKind, u64>,
    /// Intent id of every document, by segment then doc id: read once at build so a
    /// query never opens the fast-field column.
    doc_intents: Vec<Vec<u32>>,
    /// Normalise by the idf over every document (as tantivy's BM25 does) rather than over
    /// the documents carrying the field.
    total_idf: bool,
}

impl std::fmt::Debug for IntentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentIndex").field("intents", &self.intents.len()).finish()
    }
}

fn text_field(schema: &mut tantivy::schema::SchemaBuilder, name: &str) -> Field {
    let indexing = TextFieldIndexing::default().set_tokenizer(TOKENIZER).set_index_option(IndexRecordOption::WithFreqs);
    schema.add_text_field(name, TextOptions::default().set_indexing_options(indexing))
}

impl IntentIndex {
    /// `phonetic`: also index the phonetic keys ([`crate::phonetic`]).
    /// `total_idf`: see [`crate::BuildOptions::total_idf`].
    pub fn build(kb: &KnowledgeBase, analyzer: &Analyzer, phonetic: bool, total_idf: bool) -> Result<IntentIndex, IndexError> {
        let mut sb = Schema::builder();
        let intent = sb.add_u64_field("intent", NumericOptions::default().set_fast());
        let fields = Fields {
            intent,
            ex_words: text_field(&mut sb, "ex_words"),
            all_words: text_field(&mut sb, "all_words"),
            ex_grams: text_field(&mut sb, "ex_grams"),
            meta: text_field(&mut sb, "meta"),
            answer: text_field(&mut sb, "answer"),
            phon: text_field(&mut sb, "phon"),
        };
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register(TOKENIZER, TextAnalyzer::builder(WhitespaceTokenizer::default()).build());
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_HEAP)?;

        let mut intents = Vec::new();
        let mut docs_with: HashMap<FieldKind, u64> = HashMap::new();
        let add_examples = |writer: &mut tantivy::IndexWriter<TantivyDocument>,
                            docs_with: &mut HashMap<FieldKind, u64>,
                            id: u64,
                            examples: &[String],
                            extra: &[&str]|
         -> Result<(), IndexError> {
            let mut all = Vec::new();
            let mut phon = Vec::new();
            for text in extra {
                let a = analyzer.analyze(text);
                all.extend(a.stems);
                phon.extend(a.phon_words);
                phon.extend(a.phon_runs);
            }
            for ex in examples {
                let a = analyzer.analyze(ex);
                if a.stems.is_empty() {
                    continue;
                }
                let mut doc = TantivyDocument::default();
                doc.add_u64(fields.intent, id);
                doc.add_text(fields.ex_words, a.stems.join(" "));
                doc.add_text(fields.ex_grams, a.grams.join(" "));
                all.extend(a.stems.iter().cloned());
                phon.extend(a.phon_words);
                phon.extend(a.phon_runs);
                writer.add_document(doc)?;
                *docs_with.entry(FieldKind::ExampleWords).or_default() += 1;
                *docs_with.entry(FieldKind::ExampleGrams).or_default() += 1;
            }
            let mut doc = TantivyDocument::default();
            doc.add_u64(fields.intent, id);
            doc.add_text(fields.all_words, all.join(" "));
            if phonetic {
                doc.add_text(fields.phon, phon.join(" "));
                *docs_with.entry(FieldKind::Phonetic).or_default() += 1;
            }
            writer.add_document(doc)?;
            *docs_with.entry(FieldKind::IntentWords).or_default() += 1;
            Ok(())
        };
        for e in &kb.topics {
            let t = &e.topic;
            let id = intents.len() as u64;
            intents.push(t.slug.clone());
            let mut extra: Vec<&str> = vec![t.title.as_str()];
            extra.extend(t.keywords.iter().map(String::as_str));
            add_examples(&mut writer, &mut docs_with, id, &t.examples, &extra)?;
            let meta_text = std::iter::once(t.title.as_str()).chain(t.keywords.iter().map(String::as_str)).collect::<Vec<_>>().join(" . ");
            let mut doc = TantivyDocument::default();
            doc.add_u64(fields.intent, id);
            doc.add_text(fields.meta, analyzer.analyze(&meta_text).stems.join(" "));
            doc.add_text(fields.answer, analyzer.analyze(&t.answer).stems.join(" "));
            writer.add_document(doc)?;
            *docs_with.entry(FieldKind::Meta).or_default() += 1;
            *docs_with.entry(FieldKind::Answer).or_default() += 1;
        }
        for e in &kb.intents {
            let id = intents.len() as u64;
            intents.push(e.intent.intent.clone());
            add_examples(&mut writer, &mut docs_with, id, &e.intent.examples, &[])?;
        }
        writer.commit()?;
        let reader = index.reader()?;
        let searcher = reader.searcher();
        let mut doc_intents = Vec::new();
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("intent")?;
            doc_intents.push((0..seg.max_doc()).map(|d| col.first(d).unwrap_or(u64::MAX) as u32).collect());
        }
        Ok(IntentIndex { reader, fields, intents, docs_with, doc_intents, total_idf })
    }

    pub fn intents(&self) -> &[String] {
        &self.intents
    }

    /// Normalised per-field scores of every intent that matched anything.
    pub fn score(&self, q: &Analyzed) -> Result<HashMap<usize, FieldScores>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out: HashMap<usize, FieldScores> = HashMap::new();
        for kind in FIELD_KINDS {
            let terms: BTreeSet<&str> = match kind {
                FieldKind::ExampleGrams => q.grams.iter().map(String::as_str).collect(),
                FieldKind::Phonetic => q.phon_words.iter().chain(&q.phon_runs).map(String::as_str).collect(),
                _ => q.stems.iter().map(String::as_str).collect(),
            };
            if terms.is_empty() {
                continue;
            }
            let field = self.fields.of(kind);
            // tantivy's BM25 idf counts every document of the index, whatever its
            // fields: the ideal score must use the same count, or a word every topic
            // says ("caf") gets a tiny ideal and a ratio far above 1 in the per-intent
            // fields.
            let n = if self.total_idf { searcher.num_docs() as f32 } else { *self.docs_with.get(&kind).unwrap_or(&0) as f32 };
            let mut ideal = 0.0f32;
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(terms.len());
            for t in terms {
                let term = Term::from_field_text(field, t);
                let df = searcher.doc_freq(&term)? as f32;
                // Runs of words the base never says are not the caller's words missing
                // from the base: only the single words' keys count when unmatched.
                let run = kind == FieldKind::Phonetic && t.starts_with(crate::phonetic::RUN_MARK);
                if !(run && df == 0.0) {
                    ideal += (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                }
                if df > 0.0 {
                    clauses.push((Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))));
                }
            }
            if clauses.is_empty() || ideal <= 0.0 {
                continue;
            }
            let query = BooleanQuery::new(clauses);
            let hits = searcher.search(&query, &TopDocs::with_limit(150))?;
            for (score, addr) in hits {
                let id = self.doc_intents.get(addr.segment_ord as usize).and_then(|s| s.get(addr.doc_id as usize)).copied().unwrap_or(u32::MAX) as usize;
                if id >= self.intents.len() {
                    continue;
                }
                let slot = out.entry(id).or_default().slot(kind);
                *slot = slot.max(score / ideal);
            }
        }
        Ok(out)
    }
}
