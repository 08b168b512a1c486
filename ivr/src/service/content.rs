//! The content a call runs with (matcher, rendered clips, dialogue tables), loaded as one
//! value and swapped whole when a new content version is published.
//!
//! A call takes an `Arc<LoadedContent>` when it starts and keeps it to its end, so a
//! publication never changes the text of a call in progress. With a database, each
//! instance follows the latest publication: the watcher polls the store, materializes the
//! version under the content cache (`<dir>/v<N>/`), checks it with the same checker as
//! `ivr knowledge check`, renders only the clips whose text is new (one shared audio pool
//! for all versions, seeded from the repository's `prompts/audio/`), and swaps. Instances
//! may share the cache directory: a version is built under a private name and renamed into
//! place once complete. A version
//! that fails to load leaves the previous one running; either way the instance reports what
//! it runs (`content_instances`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{bail, Context};
use ivr_accounting::chrono::Utc;
use ivr_accounting::{ContentSnapshot, InstanceContent, Store};
use ivr_dialogue::content::Content;
use ivr_dialogue::policy::{Audio, DialogueConfig};
use ivr_dialogue::render::{AudioLibrary, Manifest, Renderer, MANIFEST};
use ivr_telephony::media::prompt::Prompt;

/// Version number of content loaded from the repository's files (no database).
pub const FILES_VERSION: i64 = 0;
/// Version number of the editors' draft when a draft call runs it.
pub const DRAFT_VERSION: i64 = -1;

/// Everything a call needs from the content, built once per version.
pub struct LoadedContent {
    /// The content version ([`FILES_VERSION`] without a database).
    pub version: i64,
    pub(crate) matcher: nlu::Matcher,
    /// Every clip the dialogue may ask for, ready to send (a call's playback never encodes).
    pub(crate) clips: HashMap<String, Arc<Prompt>>,
    pub(crate) dialogue: DialogueConfig,
}

impl LoadedContent {
    /// Loads the content files and their rendered audio (`audio_dir`, made by `ivr prompts
    /// render` or by [`ContentCache`]). Blocking: seconds of CPU for the index.
    pub fn load(version: i64, knowledge: &Path, prompts_file: &Path, audio_dir: &Path, base: DialogueConfig) -> anyhow::Result<LoadedContent> {
        let content = Content::load(knowledge, prompts_file).context("loading knowledge and prompts")?;
        for p in &content.problems {
            tracing::warn!(problem = %p, "content entry skipped");
        }
        let library = AudioLibrary::load(audio_dir).with_context(|| format!("loading rendered audio from {}", audio_dir.display()))?;
        if library.is_empty() {
            bail!("no rendered audio in {}: run `ivr prompts render` first", audio_dir.display());
        }
        let mut clips = HashMap::new();
        for item in content.render_items() {
            if let Some(pcm) = library_get(&library, &item.key) {
                clips.insert(item.key.clone(), Prompt::from_pcm(&item.key, &pcm));
            } else {
                tracing::warn!(key = %item.key, "no rendered audio for this clip: it will be silent");
            }
        }
        let dialogue = content.dialogue_config(base);
        let kb = nlu::knowledge::KnowledgeBase::load(knowledge).with_context(|| format!("loading {}", knowledge.display()))?;
        let matcher = nlu::Matcher::build(&kb).context("building the intent index")?;
        Ok(LoadedContent { version, matcher, clips, dialogue })
    }
}

fn library_get(library: &AudioLibrary, key: &str) -> Option<Arc<[i16]>> {
    // The library is keyed by `Audio::key()`; rebuild the Audio from the key's shape.
    let (kind, rest) = key.split_once('/')?;
    let audio = match kind {
        "prompt" => match rest.split_once('#') {
            Some((id, i)) => Audio::PromptPart(id.to_string(), i.parse().ok()?),
            None => Audio::Prompt(rest.to_string()),
        },
        "answer" => Audio::Answer(rest.to_string()),
        "short" => Audio::ShortAnswer(rest.to_string()),
        "follow" => Audio::FollowUp(rest.to_string()),
        "title" => Audio::Title(rest.to_string()),
        _ => return None,
    };
    library.get(&audio)
}

/// The content version this process runs, for `/healthz` (one content per process).
pub fn version_gauge() -> Arc<AtomicI64> {
    static GAUGE: std::sync::OnceLock<Arc<AtomicI64>> = std::sync::OnceLock::new();
    Arc::clone(GAUGE.get_or_init(|| Arc::new(AtomicI64::new(FILES_VERSION))))
}

/// The content running now, replaced whole. Readers clone the `Arc` and let go of the lock
/// at once, so a swap never waits for a call.
pub struct ContentSlot {
    current: RwLock<Arc<LoadedContent>>,
    /// The running version, for `/healthz` and the console.
    version: Arc<AtomicI64>,
}

impl ContentSlot {
    pub fn new(initial: LoadedContent, version: Arc<AtomicI64>) -> ContentSlot {
        version.store(initial.version, Ordering::SeqCst);
        ContentSlot { current: RwLock::new(Arc::new(initial)), version }
    }

    /// What a call starting now runs with (kept by the call to its end).
    pub fn get(&self) -> Arc<LoadedContent> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Makes `new` the content of calls that start from now on; returns the previous one.
    pub fn swap(&self, new: Arc<LoadedContent>) -> Arc<LoadedContent> {
        let version = new.version;
        let old = std::mem::replace(&mut *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner), new);
        self.version.store(version, Ordering::SeqCst);
        old
    }

    pub fn version(&self) -> i64 {
        self.version.load(Ordering::SeqCst)
    }
}

/// The `[content]` table of the `ivr serve` configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Where versions are written and their audio rendered (default: `content/` beside the
    /// SQLite file, else `data/content`). Instances on one host should each have their own.
    pub dir: Option<PathBuf>,
    /// How often the store is asked for a new publication.
    pub poll_ms: u64,
    /// This instance's name in the reports (default: `hostname:sip_port`).
    pub instance: Option<String>,
    /// Calls to this Request-URI user run the editors' current draft and are not counted
    /// in the accounting (editors try a draft by phone before publishing it).
    pub draft_user: String,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig { dir: None, poll_ms: 2000, instance: None, draft_user: "brouillon".into() }
    }
}

impl ContentConfig {
    /// The cache directory for a database URL when `dir` is not set.
    pub fn dir_for(&self, db_url: &str) -> PathBuf {
        if let Some(d) = &self.dir {
            return d.clone();
        }
        let sqlite = db_url.strip_prefix("sqlite://").or_else(|| db_url.strip_prefix("sqlite:"));
        match sqlite.map(|p| p.split('?').next().unwrap_or(p)).and_then(|p| Path::new(p).parent().map(Path::to_path_buf)) {
            Some(parent) if !parent.as_os_str().is_empty() => parent.join("content"),
            _ => PathBuf::from("data/content"),
        }
    }

    pub fn instance_name(&self, sip_port: u16) -> String {
        if let Some(i) = self.instance.as_ref().filter(|i| !i.trim().is_empty()) {
            return i.trim().to_string();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        format!("{}:{sip_port}", host.unwrap_or_else(|| "localhost".into()))
    }
}

/// Where versions are materialized and their audio rendered.
#[derive(Debug, Clone)]
pub struct ContentCache {
    dir: PathBuf,
    /// The repository's rendered audio (`prompts/audio/`): its clips seed the pool.
    seed_audio: PathBuf,
    /// Studio recordings that replace the synthetic voice (`prompts/studio/`).
    studio: PathBuf,
}

/// The pool of every clip ever rendered here, by text hash, shared by all versions.
const POOL: &str = "audio-pool";
/// Written last in a version's directory: the snapshot's digest.
const COMPLETE: &str = ".complete";

impl ContentCache {
    pub fn new(dir: PathBuf, seed_audio: PathBuf, studio: PathBuf) -> ContentCache {
        ContentCache { dir, seed_audio, studio }
    }

    /// Writes version `id` under the cache, checks it, renders the clips it lacks and loads
    /// it. Blocking (rendering and the index take CPU seconds): run it off the runtime.
    pub fn load(&self, id: i64, snap: &ContentSnapshot, base: DialogueConfig) -> anyhow::Result<LoadedContent> {
        self.load_as(&format!("v{id}"), id, snap, base)
    }

    /// [`ContentCache::load`] of the editors' draft, under `draft-<digest>/`.
    pub fn load_draft(&self, snap: &ContentSnapshot, base: DialogueConfig) -> anyhow::Result<LoadedContent> {
        let digest = snap.digest();
        self.load_as(&format!("draft-{}", &digest[..16]), DRAFT_VERSION, snap, base)
    }

    fn load_as(&self, name: &str, version: i64, snap: &ContentSnapshot, base: DialogueConfig) -> anyhow::Result<LoadedContent> {
        let root = self.materialize(name, snap)?;
        let knowledge = ContentSnapshot::knowledge_dir(&root);
        let prompts = ContentSnapshot::prompts_file(&root);
        LoadedContent::load(version, &knowledge, &prompts, &root.join("prompts").join("audio"), base)
    }

    /// The version's directory, complete (content checked, audio rendered). It is built
    /// under a name of this process's own and renamed into place once complete, so
    /// instances sharing the cache never read a half-written version; the digest in
    /// [`COMPLETE`] tells a directory left by another database apart.
    fn materialize(&self, name: &str, snap: &ContentSnapshot) -> anyhow::Result<PathBuf> {
        let root = self.dir.join(name);
        let digest = snap.digest();
        if std::fs::read_to_string(root.join(COMPLETE)).is_ok_and(|d| d.trim() == digest) {
            return Ok(root);
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let work = self.dir.join(format!("{name}.{}.tmp", std::process::id()));
        if work.exists() {
            std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
        }
        let built = self.build(name, snap, &work);
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
        std::fs::write(work.join(COMPLETE), &digest).with_context(|| format!("writing {}", work.join(COMPLETE).display()))?;
        if root.exists() {
            // Another instance finished first (same digest: use it), or a stale directory.
            if std::fs::read_to_string(root.join(COMPLETE)).is_ok_and(|d| d.trim() == digest) {
                let _ = std::fs::remove_dir_all(&work);
                return Ok(root);
            }
            let stale = self.dir.join(format!("{name}.{}.stale", std::process::id()));
            std::fs::rename(&root, &stale).with_context(|| format!("moving {} aside", root.display()))?;
            let _ = std::fs::remove_dir_all(&stale);
        }
        match std::fs::rename(&work, &root) {
            Ok(()) => Ok(root),
            Err(_) if std::fs::read_to_string(root.join(COMPLETE)).is_ok_and(|d| d.trim() == digest) => {
                let _ = std::fs::remove_dir_all(&work);
                Ok(root)
            }
            Err(e) => Err(e).with_context(|| format!("moving {} into place", root.display())),
        }
    }

    /// Writes, checks and renders the content `name` under `work`.
    fn build(&self, name: &str, snap: &ContentSnapshot, work: &Path) -> anyhow::Result<()> {
        snap.write_to(work).with_context(|| format!("writing {name} under {}", work.display()))?;
        let problems = nlu::knowledge::check_tree(work, today());
        if let Some(first) = problems.first() {
            bail!("{name} has {} problem(s), first: {first}", problems.len());
        }
        let knowledge = ContentSnapshot::knowledge_dir(work);
        let prompts = ContentSnapshot::prompts_file(work);
        self.render(&knowledge, &prompts, &work.join("prompts").join("audio"))
    }

    /// Renders the version's clips into `audio`, reusing every clip of the pool whose text
    /// hash matches (so only changed texts are synthesized), then adds the new ones to the pool.
    fn render(&self, knowledge: &Path, prompts: &Path, audio: &Path) -> anyhow::Result<()> {
        let pool_dir = self.dir.join(POOL);
        let mut pool = self.pool(&pool_dir)?;
        std::fs::create_dir_all(audio).with_context(|| format!("creating {}", audio.display()))?;
        // The renderer reuses a clip when its manifest has an entry with the same hash and
        // the file is present: the pool's entries and files are offered to it.
        for entry in pool.entries.values() {
            link(&pool_dir.join(&entry.file), &audio.join(&entry.file))?;
        }
        let offered = Manifest { voice: pool.voice.clone(), entries: pool.entries.clone() };
        write_manifest(audio, &offered)?;
        let content = Content::load(knowledge, prompts).context("loading the version's content")?;
        let voice = ivr_dialogue::tts::default_voice().context("no voice to render the content")?;
        let renderer = Renderer { voice: voice.as_ref(), audio_dir: audio.to_path_buf(), studio_dir: self.studio.clone() };
        let report = renderer.render_all(&content.render_items()).context("rendering the content's audio")?;
        if let Some((key, why)) = report.failed.first() {
            bail!("{} clip(s) could not be rendered, first: {key}: {why}", report.failed.len());
        }
        tracing::info!(rendered = report.rendered, reused = report.cached, studio = report.studio, "content audio ready");
        let rendered = Manifest::load(audio)?;
        let mut added = false;
        for entry in rendered.entries.into_values() {
            if !pool.entries.contains_key(&entry.hash) {
                link(&audio.join(&entry.file), &pool_dir.join(&entry.file))?;
                pool.entries.insert(entry.hash.clone(), entry);
                added = true;
            }
        }
        if added {
            write_manifest(&pool_dir, &pool)?;
        }
        Ok(())
    }

    /// The pool's manifest (entries keyed by hash), seeded from the repository's rendering
    /// the first time.
    fn pool(&self, pool_dir: &Path) -> anyhow::Result<Manifest> {
        if pool_dir.join(MANIFEST).is_file() {
            return Ok(Manifest::load(pool_dir)?);
        }
        std::fs::create_dir_all(pool_dir).with_context(|| format!("creating {}", pool_dir.display()))?;
        let seed = Manifest::load(&self.seed_audio).unwrap_or_default();
        let mut pool = Manifest { voice: seed.voice.clone(), entries: Default::default() };
        for entry in seed.entries.into_values() {
            let from = self.seed_audio.join(&entry.file);
            if from.is_file() {
                link(&from, &pool_dir.join(&entry.file))?;
                pool.entries.insert(entry.hash.clone(), entry);
            }
        }
        write_manifest(pool_dir, &pool)?;
        Ok(pool)
    }
}

/// A hard link (the pool and the versions share one copy of each clip), else a copy.
fn link(from: &Path, to: &Path) -> anyhow::Result<()> {
    if to.is_file() {
        return Ok(());
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        // Linked meanwhile by another instance sharing the cache: the same clip.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => {
            // Another file system: a copy, written aside and renamed so no reader sees half a clip.
            let tmp = to.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::copy(from, &tmp).with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
            std::fs::rename(&tmp, to).with_context(|| format!("renaming {}", tmp.display()))
        }
    }
}

fn write_manifest(dir: &Path, m: &Manifest) -> anyhow::Result<()> {
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!("{MANIFEST}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(m)?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Follows the store's publications and swaps the content of one instance.
pub struct Watcher {
    pub store: Store,
    pub cache: ContentCache,
    pub base: DialogueConfig,
    pub instance: String,
    pub poll: Duration,
}

impl Watcher {
    /// Polls for ever (aborted at shutdown). A version that failed is not tried again until
    /// another one is published.
    pub async fn run(self, slot: Arc<ContentSlot>) {
        let mut tried = slot.version();
        loop {
            tokio::time::sleep(self.poll).await;
            let published = match self.store.published_content().await {
                Ok(Some((_, v))) => v.id,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "content: cannot read the published version");
                    continue;
                }
            };
            if published == tried {
                continue;
            }
            // A database error is retried at the next poll; a version that cannot be loaded
            // (missing, or refused by the checker or the renderer) waits for another publication.
            let snap = match self.store.content_version(published).await {
                Ok(Some((_, snap))) => Ok(snap),
                Ok(None) => Err(anyhow::anyhow!("content version {published} does not exist")),
                Err(e) => {
                    tracing::warn!(version = published, error = %e, "content: cannot read the published version, retried at the next poll");
                    continue;
                }
            };
            tried = published;
            let loaded = match snap {
                Ok(snap) => self.load(published, snap).await,
                Err(e) => Err(e),
            };
            let (ok, detail) = match loaded {
                Ok(loaded) => {
                    slot.swap(Arc::new(loaded));
                    tracing::info!(version = published, "content version loaded");
                    (true, String::new())
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    tracing::warn!(version = published, running = slot.version(), %reason, "content version not loaded: the previous one keeps running");
                    (false, reason)
                }
            };
            self.report(published, ok, detail).await;
        }
    }

    async fn load(&self, id: i64, snap: ContentSnapshot) -> anyhow::Result<LoadedContent> {
        let cache = self.cache.clone();
        let base = self.base.clone();
        tokio::task::spawn_blocking(move || cache.load(id, &snap, base)).await.context("content loader stopped")?
    }

    pub async fn report(&self, version: i64, ok: bool, detail: String) {
        let r = InstanceContent { instance: self.instance.clone(), version, ok, detail, at: Utc::now() };
        if let Err(e) = self.store.report_instance_content(&r).await {
            tracing::warn!(error = %e, "content: report not stored");
        }
    }
}

/// The editors' draft for draft calls, loaded when a draft call comes and the draft changed
/// since the last one.
pub struct DraftSource {
    user: String,
    store: Store,
    cache: ContentCache,
    base: DialogueConfig,
    loaded: tokio::sync::Mutex<Option<(String, Arc<LoadedContent>)>>,
}

impl DraftSource {
    pub fn new(user: String, store: Store, cache: ContentCache, base: DialogueConfig) -> DraftSource {
        DraftSource { user, store, cache, base, loaded: Default::default() }
    }

    /// Whether a call to this Request-URI user is a draft call.
    pub fn is_draft_call(&self, dialled: Option<&str>) -> bool {
        !self.user.is_empty() && dialled.is_some_and(|d| d.eq_ignore_ascii_case(&self.user))
    }

    /// The current draft, loaded; None (the published content runs) when there is no draft
    /// or it cannot be loaded (the reason is logged).
    pub async fn content(&self) -> Option<Arc<LoadedContent>> {
        let draft = match self.store.content_draft().await {
            Ok(Some(d)) => d,
            Ok(None) => {
                tracing::warn!("draft call but no draft: the published content runs");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "draft call: the draft cannot be read, the published content runs");
                return None;
            }
        };
        let digest = draft.snapshot.digest();
        let mut loaded = self.loaded.lock().await;
        if let Some((d, c)) = loaded.as_ref() {
            if *d == digest {
                return Some(Arc::clone(c));
            }
        }
        let (cache, base, snap) = (self.cache.clone(), self.base.clone(), draft.snapshot);
        match tokio::task::spawn_blocking(move || cache.load_draft(&snap, base)).await {
            Ok(Ok(c)) => {
                let c = Arc::new(c);
                tracing::info!(base_version = ?draft.base_version, "draft content loaded");
                *loaded = Some((digest, Arc::clone(&c)));
                Some(c)
            }
            Ok(Err(e)) => {
                tracing::warn!(reason = %format!("{e:#}"), "draft not loaded: the published content runs");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "draft loader stopped: the published content runs");
                None
            }
        }
    }
}

/// The version to run at start: the published one; with none yet, the repository's files
/// become version 1 (author `import`), published.
pub async fn published_or_import(store: &Store, knowledge: &Path, prompts_file: &Path) -> anyhow::Result<(i64, ContentSnapshot)> {
    if let Some((_, v)) = store.published_content().await? {
        let Some((_, snap)) = store.content_version(v.id).await? else {
            bail!("published content version {} is missing", v.id);
        };
        return Ok((v.id, snap));
    }
    let snap = ContentSnapshot::from_dirs(knowledge, prompts_file).context("reading the repository's content")?;
    let scratch = tempfile_dir()?;
    snap.write_to(&scratch.0)?;
    let problems: Vec<String> = nlu::knowledge::check_tree(&scratch.0, today()).iter().map(ToString::to_string).collect();
    let id = store.create_content_version(&snap, "import", "fichiers du dépôt", &problems, Utc::now()).await?;
    if let Some(first) = problems.first() {
        bail!("the repository's content has {} problem(s) (version {id} kept, not published), first: {first}", problems.len());
    }
    store.publish_content_version(id, "import", Utc::now()).await?;
    tracing::info!(version = id, "content: the repository's files imported and published");
    Ok((id, snap))
}

/// Today's UTC date, for the checker's "reviewed in the future" rule.
fn today() -> (i32, u8, u8) {
    nlu::knowledge::utc_date(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
}

/// A scratch directory removed on drop (the binary has no tempfile dependency).
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<ScratchDir> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("ivr-content-check-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(ScratchDir(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn shipped() -> ContentSnapshot {
        ContentSnapshot::from_dirs(&repo().join("knowledge"), &repo().join("prompts/prompts.toml")).unwrap()
    }

    fn pool_len(dir: &Path) -> usize {
        Manifest::load(&dir.join(POOL)).unwrap().entries.len()
    }

    /// A call keeps the content it took at its start: a swap changes the next calls only.
    /// Also: the shipped rendering is reused whole, and a changed answer is the only clip
    /// synthesized again.
    #[test]
    fn a_call_keeps_its_content_across_a_swap_and_only_changed_texts_are_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ContentCache::new(dir.path().join("content"), repo().join("prompts/audio"), repo().join("prompts/studio"));
        let v1 = cache.load(1, &shipped(), DialogueConfig::default()).unwrap();
        let seeded =
            Manifest::load(&repo().join("prompts/audio")).unwrap().entries.values().map(|e| e.hash.clone()).collect::<std::collections::HashSet<_>>().len();
        assert_eq!(pool_len(&dir.path().join("content")), seeded, "nothing synthesized for the shipped texts");
        let old_len = v1.clips["answer/rsa"].duration_ms();

        let gauge = Arc::new(AtomicI64::new(0));
        let slot = ContentSlot::new(v1, Arc::clone(&gauge));
        assert_eq!(gauge.load(Ordering::SeqCst), 1);
        let call = slot.get();

        let mut changed = shipped();
        let rsa = changed.files.get_mut("knowledge/rsa.toml").unwrap();
        let start = rsa.find("answer = \"\"\"").unwrap();
        let end = start + 12 + rsa[start + 12..].find("\"\"\"").unwrap() + 3;
        let answer = "Le RSA complète les ressources des personnes qui ont peu ou pas de revenus. Vous pouvez faire \
                      une simulation puis une demande sur caf point f r ou dans l'application Caf - Mon Compte. Gardez \
                      vos justificatifs de ressources des trois derniers mois, ils vous seront demandés pendant la demande. Votre droit est ensuite revu chaque trimestre avec votre déclaration.";
        rsa.replace_range(start..end, &format!("answer = \"\"\"\n{answer}\n\"\"\""));
        let v2 = cache.load(2, &changed, DialogueConfig::default()).unwrap();
        assert_eq!(pool_len(&dir.path().join("content")), seeded + 1, "only the changed answer synthesized");
        let new_len = v2.clips["answer/rsa"].duration_ms();
        assert_ne!(new_len, old_len);

        let previous = slot.swap(Arc::new(v2));
        assert_eq!(previous.version, 1);
        assert_eq!(gauge.load(Ordering::SeqCst), 2);
        assert_eq!(slot.get().clips["answer/rsa"].duration_ms(), new_len);
        // The call in progress still plays the text it started with.
        assert_eq!(call.version, 1);
        assert_eq!(call.clips["answer/rsa"].duration_ms(), old_len);

        // A version already built is reused as it is; a broken one is refused with its reason.
        let again = cache.load(2, &changed, DialogueConfig::default()).unwrap();
        assert_eq!(again.clips["answer/rsa"].duration_ms(), new_len);
        let mut broken = changed.clone();
        broken.files.insert("knowledge/rsa.toml".into(), "slug = \"rsa\"\n".into());
        let err = format!("{:#}", cache.load(3, &broken, DialogueConfig::default()).err().unwrap());
        assert!(err.contains("knowledge/rsa.toml:"), "{err}");
        assert!(!dir.path().join("content/v3").exists());
    }

    #[test]
    fn the_cache_lives_beside_the_sqlite_file_unless_configured() {
        let c = ContentConfig::default();
        assert_eq!(c.dir_for("sqlite://data/ivr.sqlite"), PathBuf::from("data/content"));
        assert_eq!(c.dir_for("sqlite:///var/lib/ivr/ivr.sqlite?mode=rwc"), PathBuf::from("/var/lib/ivr/content"));
        assert_eq!(c.dir_for("postgres://ivr@db/ivr"), PathBuf::from("data/content"));
        let c = ContentConfig { dir: Some("/srv/content".into()), instance: Some("ivr-a".into()), ..ContentConfig::default() };
        assert_eq!(c.dir_for("postgres://ivr@db/ivr"), PathBuf::from("/srv/content"));
        assert_eq!(c.instance_name(5060), "ivr-a");
        assert!(ContentConfig::default().instance_name(5060).ends_with(":5060"));
    }
}
