; Inno Setup 6 script: installer for the PyInstaller onedir bundle dist\ckptgui\ (packaging/ckptgui.spec).
; Build on Windows with packaging\windows\build_windows.ps1, which freezes, runs the self-test, then calls
;   iscc /DMyAppVersion=<ckptgui.__version__> packaging\windows\ckptgui.iss
; Output: dist\ckptgui-<version>-windows-x64-setup.exe. Paths below are relative to this file.
#ifndef MyAppVersion
  #error Pass the version from the package: iscc /DMyAppVersion=X.Y.Z (build_windows.ps1 does)
#endif
#define MyAppName "ckptgui"
#define MyAppExeName "ckptgui.exe"
#define RepoRoot "..\.."

[Setup]
AppId={{36AA093D-F997-48BB-87FB-8DB9E2E71A0C}
AppName={#MyAppName}
AppVersion={#MyAppVersion}
AppVerName={#MyAppName} {#MyAppVersion}
AppPublisher=ckptgui
VersionInfoVersion={#MyAppVersion}
DefaultDirName={autopf}\{#MyAppName}
DefaultGroupName={#MyAppName}
DisableProgramGroupPage=yes
; Per-user install by default (no admin); the dialog offers all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#RepoRoot}\dist
OutputBaseFilename={#MyAppName}-{#MyAppVersion}-windows-x64-setup
SetupIconFile={#RepoRoot}\packaging\icons\ckptgui.ico
UninstallDisplayIcon={app}\{#MyAppExeName}
UninstallDisplayName={#MyAppName} {#MyAppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; A new version's bundle replaces the old one whole: stale DLLs from an older TensorFlow must not linger.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#RepoRoot}\dist\ckptgui\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"
Name: "{autodesktop}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#MyAppExeName}"; Description: "{cm:LaunchProgram,{#MyAppName}}"; Flags: nowait postinstall skipifsilent
